"""Portal sign-in: Flask-Login sessions, the throttle, the forced password change."""

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from gateway.admin import two_factor, users
from gateway.errors import MosPayError, Unauthorized
from gateway.portal.blueprint import bp
from gateway.portal.extensions import login_manager
from gateway.portal.forms import LoginForm, PasswordForm, apply_error
from gateway.runtime import runtime


class PortalUser(UserMixin):
    """A signed-in user; the session id carries the password version, so a password change signs others out."""

    def __init__(self, user):
        self.user = user
        self.username, self.role = user.username, user.role
        self.must_change_password = user.must_change_password
        # MOSPAY_REQUIRE_TOTP: an admin or DBA without two-factor sign-in enrols before anything else.
        self.must_enrol = not user.two_factor and two_factor.required(runtime(), user.role)

    def get_id(self):
        return f"{self.user.id}:{self.user.password_version}"


def init_app(app):
    """Attach Flask-Login to ``app``."""
    login_manager.init_app(app)
    login_manager.login_view = "portal.login"
    login_manager.session_protection = "basic"


@login_manager.user_loader
def _load(session_id):
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = users.signed_in_user(runtime(), int(user_id), int(version))
    return PortalUser(user) if user else None


def pending_user(key):
    """The user a session value ``"<id>:<version>"`` names, still active with that password, or ``None``."""
    user_id, _, version = str(key or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return users.signed_in_user(runtime(), int(user_id), int(version))


SECOND_FACTOR_KEY = "portal_second_factor"  # "<id>:<password version>" between the password and the code


def safe_next(target):
    return target if target and target.startswith("/portal/") and "//" not in target else url_for("portal.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in; repeated failures for a username from one address lock it for a while."""
    form = LoginForm()
    if form.validate_on_submit():
        # The switch's shared limits store (Redis when REDIS_URL is set), keyed like the API's lockout.
        limits, address = runtime().limits, request.remote_addr or "-"
        username, password = form.username.data.strip(), form.password.data
        wait = limits.locked_for("portal", username.lower(), address, password)
        if wait:
            form.username.errors.append(f"Too many failed attempts: try again in {wait // 60 + 1} min.")
            return render_template("portal/login.html", form=form), 429
        try:
            user = users.authenticate(runtime(), username, password)
        except Unauthorized:
            limits.record_failure("portal", username.lower(), address, password)
            form.password.errors.append("Wrong username or password.")
            return render_template("portal/login.html", form=form), 401
        limits.forget_failures("portal", username.lower(), address)
        session.clear()  # a fresh session (and CSRF token) for the signed-in user
        if user.two_factor:  # the password is right; the second factor (views/two_factor.py) signs in
            session[SECOND_FACTOR_KEY] = PortalUser(user).get_id()
            return redirect(url_for("portal.second_factor", next=request.args.get("next")))
        login_user(PortalUser(user))
        if user.must_change_password:
            return redirect(url_for("portal.password"))
        return redirect(safe_next(request.args.get("next")))
    return render_template("portal/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Sign out."""
    logout_user()
    session.clear()
    return redirect(url_for("portal.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's password (required before anything else for a new user)."""
    form = PasswordForm()
    if form.validate_on_submit():
        rt = runtime()
        try:
            users.change_password(rt, current_user.user, {"current_password": form.current_password.data,
                                                          "new_password": form.new_password.data})
        except MosPayError as error:
            apply_error(form, error)
            return render_template("portal/password.html", form=form), error.status
        user = users.signed_in_user(rt, current_user.user.id, current_user.user.password_version + 1)
        session.clear()
        login_user(PortalUser(user))
        flash("Your password was changed.", "success")
        return redirect(url_for("portal.dashboard"))
    return render_template("portal/password.html", form=form)
