"""Rotating credentials and rolling a function back ask first: a plain POST changes nothing."""

import re

import pytest

from tests.portal.conftest import csrf_token


@pytest.fixture(scope="module")
def admin_portal(portal_as):
    return portal_as("admin")


def fn_of(integrator):
    return f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"


def confirm_form(html):
    """``(action, fields)`` of the confirmation page's form."""
    form = html.split('id="confirm"')[1].split("</form>")[0]
    action = re.search(r'<form method="post" action="([^"]+)"', form).group(1)
    return action, dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


def test_rotating_credentials_asks_first_and_acts_only_when_confirmed(admin_portal, admin, integrator):
    app_id = integrator.client["app_id"]

    asked = admin_portal.submit(f"/portal/clients/{app_id}/rotate")

    assert asked.status_code == 200 and f"Rotate the credentials of {app_id}?" in asked.text
    assert 'id="cred-password"' not in asked.text
    assert integrator.pay().status_code == 200  # the old credentials still work
    assert admin.get(f"/clients/{app_id}").json()["credential_version"] == 1
    action, fields = confirm_form(asked.text)
    assert fields["confirmed"] == "yes" and action == f"/portal/clients/{app_id}/rotate"
    rotated = admin_portal.post(action, data=fields)
    assert rotated.status_code == 200 and 'id="cred-password"' in rotated.text
    assert integrator.pay().status_code == 401


def test_rolling_back_asks_first_and_acts_only_when_confirmed(admin_portal, admin, integrator):
    fn = fn_of(integrator)
    source = admin.get(f"/functions/{fn}").json()["source"].replace("'POST'", "'PUT'")
    assert admin.put(f"/functions/{fn}", {"source": source}).status_code == 200

    asked = admin_portal.submit(f"/portal/functions/{fn}/rollback", {"version": "1"})

    assert asked.status_code == 200 and f"Roll {fn} back to version 1?" in asked.text
    assert [v["version"] for v in admin.get(f"/functions/{fn}/versions").json()["versions"]] == [2, 1]
    action, fields = confirm_form(asked.text)
    assert fields == {"csrf_token": csrf_token(asked.text), "version": "1", "confirmed": "yes"}
    assert admin_portal.post(action, data=fields).status_code == 302
    assert [v["version"] for v in admin.get(f"/functions/{fn}/versions").json()["versions"]] == [3, 2, 1]


def test_the_buttons_carry_the_question_for_the_browser_to_ask(admin_portal, admin, integrator):
    app_id, fn = integrator.client["app_id"], fn_of(integrator)
    assert 'data-confirm="Rotate the credentials of' in admin_portal.get(f"/portal/clients/{app_id}").text
    source = admin.get(f"/functions/{fn}").json()["source"].replace("'POST'", "'PUT'")
    assert admin.put(f"/functions/{fn}", {"source": source}).status_code == 200
    assert f'data-confirm="Roll {fn} back to version 1?' in admin_portal.get(f"/portal/functions/{fn}").text
    assert 'data-confirm="Roll' in admin_portal.get(f"/portal/functions/{fn}/versions/1").text
