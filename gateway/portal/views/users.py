"""Users (admins only): list and create portal / admin-API users."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from gateway.admin import users
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import UserForm
from gateway.portal.views import act, action_form, form_failed
from gateway.runtime import runtime


@bp.route("/users", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def users_page():
    """Every user, and a form to add one (who must change the first password)."""
    form = UserForm()
    rt = runtime()
    if form.validate_on_submit():
        payload = {"username": form.username.data.strip(), "role": form.role.data, "password": form.password.data}
        try:
            users.create_user(rt, payload, current_user.username)
        except MosPayError as error:
            return form_failed(form, error, "portal/users.html", users=users.list_users(rt), action=action_form())
        flash(f"User {payload['username']} created; they must change the password at first sign-in.", "success")
        return redirect(url_for("portal.users_page"))
    return render_template("portal/users.html", form=form, users=users.list_users(rt), action=action_form())


@bp.post("/users/<username>/update")
@roles_required(*WRITE_ROLES)
def user_update(username):
    """Change a user's role and state from the users page."""
    if not action_form().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return redirect(url_for("portal.users_page"))
    payload = {"role": request.form.get("role"), "active": request.form.get("active") == "yes"}
    return act(lambda: users.update_user(runtime(), username, payload, current_user.username),
               f"User {username} updated.", url_for("portal.users_page"))
