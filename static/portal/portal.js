// MosPay portal behaviour. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#input-id">.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.querySelector(button.getAttribute("data-copy"));
      if (!input) { return; }
      var done = function () {
        button.classList.add("btn-success");
        button.innerHTML = '<i class="bi bi-check2"></i> Copied';
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { if (document.execCommand("copy")) { done(); } } catch (e) { /* the text stays selected */ }
      }
    });
  });

  // Sample buttons: <button data-fill="#textarea" data-sample="...">.
  document.querySelectorAll("[data-fill]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.querySelector(button.getAttribute("data-fill"));
      if (target) { target.value = button.getAttribute("data-sample"); }
    });
  });

  // A refused edit: put the cursor on the line PostgreSQL named.
  var editor = document.querySelector("textarea[data-error-line]");
  if (editor) {
    var line = parseInt(editor.getAttribute("data-error-line"), 10);
    var lines = editor.value.split("\n");
    var start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
    var end = start + (lines[line - 1] || "").length;
    editor.focus();
    editor.setSelectionRange(start, end);
    var lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 18;
    editor.scrollTop = Math.max(0, (line - 5) * lineHeight);
  }
})();
