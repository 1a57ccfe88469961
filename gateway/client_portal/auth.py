"""Client portal sign-in: e-mail + password (the admin portal's throttle), an optional second factor,
invitation links, and two-factor enrolment."""

from flask import flash, g, redirect, render_template, request, session, url_for

from gateway.admin import client_users, two_factor
from gateway.client_portal.blueprint import PENDING_KEY, SESSION_KEY, bp, load, session_id
from gateway.client_portal.forms import ClientLoginForm, InvitationForm
from gateway.errors import MosPayError, TwoFactorRequired, Unauthorized
from gateway.portal.forms import SecondFactorForm, apply_error
from gateway.portal.views import secret_page
from gateway.runtime import runtime


def _throttle_name(email):
    # The admin portal's limit ("portal": MOSPAY_PORTAL_FAILURE_LIMIT), under names no admin username can take.
    return "client:" + email.strip().lower()


def _safe_next(target):
    return target if target and target.startswith("/client/") and "//" not in target else url_for(
        "client_portal.payments")


def _sign_in(user):
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session[SESSION_KEY] = session_id(user)
    client_users.record_sign_in(runtime(), user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password; repeated failures lock (e-mail, address) for a while."""
    form = ClientLoginForm()
    if form.validate_on_submit():
        limits, address = runtime().limits, request.remote_addr or "-"
        name, password = _throttle_name(form.email.data), form.password.data
        wait = limits.locked_for("portal", name, address, password)
        if wait:
            form.email.errors.append(f"Too many failed attempts: try again in {wait // 60 + 1} min.")
            return render_template("client/login.html", form=form), 429
        try:
            user = client_users.authenticate(runtime(), form.email.data, password)
        except Unauthorized:
            limits.record_failure("portal", name, address, password)
            form.password.errors.append("Wrong e-mail or password.")
            return render_template("client/login.html", form=form), 401
        limits.forget_failures("portal", name, address)
        if two_factor.enabled(runtime(), two_factor.CLIENT_USER, user.id):
            session.clear()
            session[PENDING_KEY] = session_id(user)
            return redirect(url_for("client_portal.second_factor", next=request.args.get("next")))
        _sign_in(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("client/login.html", form=form)


@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor():
    """The second step for a user with two-factor on: a TOTP code, or a recovery code (spent)."""
    user = load(PENDING_KEY)
    if user is None:
        return redirect(url_for("client_portal.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        rt, address = runtime(), request.remote_addr or "-"
        name = _throttle_name(user.email) + ":totp"
        if rt.limits.locked_for("portal", name, address, form.code.data):
            form.code.errors.append("Too many failed attempts: try again later.")
            return render_template("client/second_factor.html", form=form), 429
        try:
            used = two_factor.check(rt, two_factor.CLIENT_USER, user.id, form.code.data)
        except TwoFactorRequired as error:
            rt.limits.record_failure("portal", name, address, form.code.data)
            form.code.errors.append(error.message)
            return render_template("client/second_factor.html", form=form), 401
        _sign_in(user)
        if used == "recovery":
            flash("You signed in with a recovery code: it cannot be used again.", "warning")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("client/second_factor.html", form=form)


@bp.post("/logout")
def logout():
    """Sign out."""
    session.clear()
    return redirect(url_for("client_portal.login"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token):
    """An admin's invitation: choose a password (once per link) and be signed in."""
    found = client_users.invitation(runtime(), token)
    form = InvitationForm()
    if form.validate_on_submit():
        try:
            user = client_users.accept(runtime(), token, {"password": form.password.data})
        except MosPayError as error:
            apply_error(form, error)
            return render_template("client/invitation.html", form=form, invitation=found), error.status
        _sign_in(user)
        flash(f"Welcome, {user.email}: your password is set.", "success")
        return redirect(url_for("client_portal.payments"))
    response = render_template("client/invitation.html", form=form, invitation=found)
    return response, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor_page():
    """Two-factor sign-in: its state, enrolment (secret + URI shown once), confirmation (recovery codes once)."""
    rt, user = runtime(), g.client_user
    form = SecondFactorForm()
    if request.method == "POST" and request.form.get("step") == "begin":
        enrolment = two_factor.begin(rt, two_factor.CLIENT_USER, user.id, user.email)
        return secret_page("client/two_factor.html", enrolment=enrolment, form=form,
                           state=two_factor.state(rt, two_factor.CLIENT_USER, user.id))
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm(rt, two_factor.CLIENT_USER, user.id, form.code.data)
        except MosPayError as error:
            flash(error.message + " " + " ".join(f"{k} {v}" for k, v in (error.details or {}).items()), "danger")
            return redirect(url_for("client_portal.two_factor_page"))
        return secret_page("client/two_factor.html", codes=codes, form=form,
                           state=two_factor.state(rt, two_factor.CLIENT_USER, user.id))
    return render_template("client/two_factor.html", form=form,
                           state=two_factor.state(rt, two_factor.CLIENT_USER, user.id))
