"""The client portal's invitations and the two-factor reset from the shell (the real `flask` executable)."""

import json

import requests

from tests.factories import unique_name


def test_an_operator_invites_a_client_user_whose_link_then_works(flask_cli, admin, base_url):
    app_id = admin.create_client()["app_id"]
    email = f"{unique_name('ops')}@example.com"
    result = flask_cli("clients", "invite", app_id, email)
    assert result.returncode == 0, result.stderr
    invited = json_of(result)
    assert invited["email"] == email and invited["invitation_path"].startswith("/client/invitation/")
    assert requests.get(base_url + invited["invitation_path"]).status_code == 200
    again = flask_cli("clients", "invite", "no_such_app", email)
    assert again.returncode == 1 and "NOT_FOUND" in again.stderr


def test_the_last_admin_who_lost_the_authenticator_is_reset_from_the_shell(flask_cli, db):
    db("UPDATE mospay.users SET totp_secret_sealed = 'x', totp_confirmed_at = now() WHERE username = 'admin' "
       "RETURNING id")
    result = flask_cli("users", "reset-two-factor", "admin")
    assert result.returncode == 0, result.stderr
    assert db("SELECT totp_confirmed_at FROM mospay.users WHERE username = 'admin'")[0]["totp_confirmed_at"] is None
    assert db("SELECT action FROM mospay.audit_log ORDER BY id DESC LIMIT 1")[0]["action"] == "user.two_factor_reset"
    assert flask_cli("users", "reset-two-factor", "nobody").returncode == 1


def json_of(result):
    return json.loads(result.stdout)
