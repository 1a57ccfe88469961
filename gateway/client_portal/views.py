"""Client portal pages: thin views over ``gateway/admin/client_scope.py`` (always the signed-in user's client)."""


from flask import Response, flash, g, redirect, render_template, request, stream_with_context, url_for

from gateway.admin import client_scope
from gateway.client_portal.blueprint import bp
from gateway.client_portal.forms import CallbackUrlForm
from gateway.errors import MosPayError
from gateway.follow_up import deliveries
from gateway.own_address import own_address
from gateway.portal import samples
from gateway.portal.forms import STATUSES, ActionForm
from gateway.portal.views import act, confirmed, secret_page
from gateway.runtime import runtime


def _routes():
    return [f"{r['microservice']}/{r['service']}/{r['route']}" for r in client_scope.routes(runtime(), g.client_user)]


@bp.get("/")
def payments():
    """The client's payments, newest first, with filters and pagination."""
    page = client_scope.payments(runtime(), g.client_user, request.args,
                                 client_scope.cursors(request.args))
    return render_template("client/payments.html", page=page, args=request.args, statuses=STATUSES,
                           services=_routes())


@bp.get("/payments.csv")
def payments_csv():
    """The filtered payments as CSV (every matching row, streamed)."""
    rows = client_scope.payments_csv(runtime(), g.client_user, request.args)
    return Response(stream_with_context(rows), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="mospay-payments.csv"', "Cache-Control": "no-store"})


@bp.get("/payments/<ref>")
def payment(ref):
    """One payment: stage timeline, masked request, downstream call and answer."""
    return render_template("client/payment.html", tx=client_scope.payment(runtime(), g.client_user, ref))


@bp.get("/api-logs")
def api_logs():
    """The client's API calls, newest first."""
    page = client_scope.api_logs(runtime(), g.client_user, request.args,
                                 client_scope.cursors(request.args))
    return render_template("client/api_logs.html", page=page, args=request.args)


@bp.get("/callbacks")
def callbacks():
    """The client's callback deliveries (``?state=queued|done|dead``)."""
    rows = client_scope.callback_deliveries(runtime(), g.client_user, request.args.get("state"))
    return render_template("client/callbacks.html", deliveries=rows, args=request.args, states=deliveries.STATES)


@bp.post("/callbacks/<int:delivery_id>/resend")
def callback_resend(delivery_id):
    """Queue one of the client's deliveries again now."""
    return act(lambda: client_scope.resend_delivery(runtime(), g.client_user, delivery_id),
               f"Delivery {delivery_id} queued again: it is sent next.", url_for("client_portal.callbacks"))


def confirm_page(title, question, consequence, action, back):
    """Ask before acting (the page a button without ``confirmed=yes`` gets: nothing was changed)."""
    return render_template("client/confirm.html", title=title, question=question, consequence=consequence,
                           action=action, back=back)


ROTATE_CONSEQUENCE = "Your current API username and password stop working at once; the new ones are shown once."
CALLBACK_SECRET_CONSEQUENCE = "Callbacks are signed with the new secret at once; the old one stops verifying."


@bp.get("/credentials")
def credentials():
    """The API credential (never the secret) and when it was last used; callback URL and signing secret."""
    found = client_scope.credentials(runtime(), g.client_user)
    form = CallbackUrlForm(callback_url=found["callback_url"] or "")
    return render_template("client/credentials.html", found=found, form=form, action=ActionForm(),
                           rotate_consequence=ROTATE_CONSEQUENCE, secret_consequence=CALLBACK_SECRET_CONSEQUENCE)


@bp.post("/credentials/rotate")
def credentials_rotate():
    """A new API username and password, once confirmed, shown on the answer page only."""
    if not confirmed():
        return confirm_page("Rotate your API secret", "Rotate your API credentials?", ROTATE_CONSEQUENCE,
                            url_for("client_portal.credentials_rotate"), url_for("client_portal.credentials"))
    rotated = client_scope.rotate_secret(runtime(), g.client_user)
    return secret_page("client/secret_once.html", title="New API credentials", values=[
        ("Username", rotated["username"], "new-username"), ("Password", rotated["password"], "new-password")])


@bp.post("/credentials/callback-secret")
def callback_secret_rotate():
    """A new callback signing secret, once confirmed, shown on the answer page only."""
    if not confirmed():
        return confirm_page("New signing secret", "Make a new callback signing secret?", CALLBACK_SECRET_CONSEQUENCE,
                            url_for("client_portal.callback_secret_rotate"), url_for("client_portal.credentials"))
    rotated = client_scope.rotate_callback_secret(runtime(), g.client_user)
    return secret_page("client/secret_once.html", title="New callback signing secret", values=[
        ("Signing secret", rotated["callback_secret"], "new-callback-secret")])


@bp.post("/credentials/callback-url")
def callback_url():
    """Set or clear the callback URL."""
    form = CallbackUrlForm()
    url = (form.callback_url.data or "").strip()
    return act(lambda: client_scope.set_callback_url(runtime(), g.client_user, url),
               "Callback URL saved." if url else "Callback URL cleared.", url_for("client_portal.credentials"))


@bp.get("/routes")
def routes():
    """The client's routes: field rules, a sample message and a ready curl each, and the test payment button."""
    found = client_scope.routes(runtime(), g.client_user)
    for route in found:
        route["sample"] = samples.sample_request(route)
        route["curl"] = samples.curl_command(request.host_url, route["sample"])
    return render_template("client/routes.html", routes=found, action=ActionForm(),
                           username=client_scope.credentials(runtime(), g.client_user)["username"])


@bp.post("/routes/<microservice>/<service>/<route>/test")
def test_payment(microservice, service, route):
    """Send the route's sample message as a real payment through the switch's own API; show its page."""
    rt, user = runtime(), g.client_user
    found = client_scope.route(rt, user, microservice, service, route)
    try:
        answer = client_scope.send_test_payment(rt, user, found, samples.sample_request(found), own_address())
    except MosPayError as error:
        flash(error.message, "danger")
        return redirect(url_for("client_portal.routes"))
    if not answer.get("transaction_ref"):
        problem = answer.get("error", {})
        flash(f"The test payment was refused ({answer['http_status']} {problem.get('code', '')}): "
              f"{problem.get('message', '')}", "danger")
        return redirect(url_for("client_portal.routes"))
    flash(f"Test payment {answer['unique_id']} answered {answer.get('status')} ({answer.get('code')}).", "info")
    return redirect(url_for("client_portal.payment", ref=answer["transaction_ref"]))
