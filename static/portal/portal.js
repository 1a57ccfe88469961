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

  // A page answering a POST that stands for another address (a new client's page): show that address,
  // so a reload or a bookmark asks for the page itself, never the POST again.
  var canonical = document.querySelector("[data-replace-url]");
  if (canonical && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", canonical.getAttribute("data-replace-url"));
  }

  // Buttons that cannot be undone: <form data-confirm="question">. The browser asks; a yes posts
  // confirmed=yes. Without this script the server answers with a page that asks the same question.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.querySelector('input[name="confirmed"]')) { return; }
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
        return;
      }
      var flag = document.createElement("input");
      flag.type = "hidden";
      flag.name = "confirmed";
      flag.value = "yes";
      form.appendChild(flag);
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

// The transactions page stays live: server-sent events update each row's state as it changes
// and count the transactions that arrived since the page was drawn.
(function () {
  "use strict";
  var table = document.querySelector("#transactions-table[data-stream]");
  if (!table || !window.EventSource) { return; }
  var STYLES = {SUCCESS: "success", FAILED: "danger", REJECTED: "danger", PENDING: "warning",
                UNKNOWN: "dark", RECEIVED: "secondary"};
  var indicator = document.getElementById("live-indicator");
  var banner = document.getElementById("live-banner");
  var counter = document.getElementById("live-count");
  var fresh = 0;
  var refs = Array.prototype.map.call(table.querySelectorAll("tr[data-ref]"), function (row) {
    return row.getAttribute("data-ref");
  });
  var source = new EventSource(table.getAttribute("data-stream") + "?refs=" + encodeURIComponent(refs.join(",")));

  function setText(row, name, value) {
    var cell = row.querySelector('[data-live="' + name + '"]');
    if (cell) { cell.textContent = value === null || value === undefined ? "" : String(value); }
  }

  source.addEventListener("open", function () {
    indicator.className = "badge text-bg-success";
    indicator.textContent = "live";
  });
  source.addEventListener("error", function () {
    indicator.className = "badge text-bg-secondary";
    indicator.textContent = "reconnecting…";
  });
  source.addEventListener("transaction", function (event) {
    var tx = JSON.parse(event.data);
    var row = table.querySelector('tr[data-ref="' + tx.ref + '"]');
    if (row) {
      var badge = document.createElement("span");
      badge.className = "badge text-bg-" + (STYLES[tx.status] || "secondary");
      badge.textContent = tx.status;
      var cell = row.querySelector('[data-live="status"]');
      if (cell && cell.textContent.trim() !== tx.status) {
        cell.replaceChildren(badge);
        row.classList.add("table-info");
      }
      setText(row, "http_status", tx.http_status);
      // The live query carries only the switch's own error code: never blank the code the page drew.
      if (tx.error_code) { setText(row, "error_code", tx.error_code); }
    } else if (tx["new"]) {
      fresh += 1;
      counter.textContent = String(fresh);
      banner.classList.remove("d-none");
    }
  });
})();
