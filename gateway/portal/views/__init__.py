"""Portal views, grouped by page; each module attaches its routes to ``portal.bp``."""

from flask import flash, make_response, redirect, render_template, request

from gateway.errors import MosPayError
from gateway.portal.forms import ActionForm, apply_error


def act(call, success, back):
    """Run a state change from a button; flash the outcome and go back to ``back``."""
    try:
        call()
    except MosPayError as error:
        flash(error.message, "danger")
        return redirect(back)
    flash(success, "success")
    return redirect(back)


def form_failed(form, error, template, **context):
    """Re-render ``template`` with the service layer's ``error`` shown on ``form``."""
    apply_error(form, error)
    return render_template(template, form=form, **context), error.status


def secret_page(template, **context):
    """A page showing credentials once: never cached, never stored in the session or a flash."""
    response = make_response(render_template(template, **context))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def confirmed():
    """Whether a change that cannot be undone was confirmed (portal.js's dialog, or ``confirm_page``)."""
    return request.form.get("confirmed") == "yes"


def confirm_page(title, question, consequence, action, back, **hidden):
    """Ask before acting: the page a button without ``confirmed=yes`` gets (nothing was changed)."""
    return render_template("portal/confirm.html", title=title, question=question, consequence=consequence,
                           action=action, back=back, hidden=hidden)


def action_form():
    """The CSRF-only form behind a state-changing button."""
    return ActionForm()
