"""Two-factor sign-in in the admin portal: the second step after the password, and enrolment."""

import dataclasses

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

from gateway.admin import two_factor
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError, TwoFactorRequired
from gateway.portal.auth import SECOND_FACTOR_KEY, PortalUser, pending_user, safe_next
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import SecondFactorForm
from gateway.portal.views import act, secret_page
from gateway.runtime import runtime


@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor():
    """After the password: a TOTP code (each accepted once) or a recovery code (spent); throttled like passwords."""
    user = pending_user(session.get(SECOND_FACTOR_KEY))
    if user is None:
        return redirect(url_for("portal.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        rt, address, name = runtime(), request.remote_addr or "-", f"{user.username.lower()}:totp"
        if rt.limits.locked_for("portal", name, address, form.code.data):
            form.code.errors.append("Too many failed attempts: try again later.")
            return render_template("portal/second_factor.html", form=form), 429
        try:
            used = two_factor.check(rt, two_factor.USER, user.id, form.code.data)
        except TwoFactorRequired as error:
            rt.limits.record_failure("portal", name, address, form.code.data)
            form.code.errors.append(error.message)
            return render_template("portal/second_factor.html", form=form), 401
        session.clear()
        login_user(PortalUser(user))
        if used == "recovery":
            flash("You signed in with a recovery code: it cannot be used again.", "warning")
        if user.must_change_password:
            return redirect(url_for("portal.password"))
        return redirect(safe_next(request.args.get("next")))
    return render_template("portal/second_factor.html", form=form)


@bp.post("/users/<username>/two-factor/reset")
@roles_required(*WRITE_ROLES)
def user_two_factor_reset(username):
    """An admin turns another user's two-factor sign-in off (a lost authenticator); audited."""
    return act(lambda: two_factor.reset_user(runtime(), username, current_user.username),
               f"Two-factor sign-in of {username} turned off: they enrol again.", url_for("portal.users_page"))


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor_page():
    """One's two-factor sign-in: state, enrolment (secret and otpauth URI once), recovery codes once."""
    rt, user = runtime(), current_user.user
    form = SecondFactorForm()
    state = two_factor.state(rt, two_factor.USER, user.id)
    if request.method == "POST" and request.form.get("step") == "begin":
        enrolment = two_factor.begin(rt, two_factor.USER, user.id, user.username)
        return secret_page("portal/two_factor.html", enrolment=enrolment, form=form, state=state)
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm(rt, two_factor.USER, user.id, form.code.data)
        except MosPayError as error:
            flash(" ".join([error.message, *(f"{k} {v}" for k, v in (error.details or {}).items())]), "danger")
            return redirect(url_for("portal.two_factor_page"))
        # The session's user object predates the change: sign in again with the fresh one (two_factor on).
        login_user(PortalUser(dataclasses.replace(user, two_factor=True)))
        return secret_page("portal/two_factor.html", codes=codes, form=form,
                           state=two_factor.state(rt, two_factor.USER, user.id))
    return render_template("portal/two_factor.html", form=form, state=state)
