"""Portal pages over real HTTP: each one on the service layer, as an admin, a DBA and a viewer see it."""

import psycopg
import pytest

from tests.factories import unique_name
from tests.portal.conftest import PortalSession

RAISING_SOURCE = """CREATE OR REPLACE FUNCTION mospay_fn."{name}"(request jsonb, context jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $function$
BEGIN
    RETURN jsonb_build_object('url', context #>> '{{service,url}}', 'body', 1 / 0);
END
$function$"""


@pytest.fixture(scope="module")
def admin_portal(portal_as):
    return portal_as("admin")


@pytest.fixture(scope="module")
def viewer_portal(portal_as):
    return portal_as("viewer")


def fn_of(integrator):
    return f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"


def flashed(session, response):
    """The page a button's redirect leads to."""
    assert response.status_code == 302, response.text
    return session.get(response.headers["Location"]).text


@pytest.mark.parametrize("path", ["/portal/", "/portal/clients", "/portal/services", "/portal/routes",
                                  "/portal/transactions", "/portal/api-logs", "/portal/audit", "/portal/functions",
                                  "/portal/transactions?status=SUCCESS&from=2020-01-01&to=2999-12-31&page=2",
                                  "/portal/transactions?from=not-a-date&page=x", "/portal/api-logs?status=200"])
def test_every_read_page_renders_for_a_viewer(viewer_portal, path):
    response = viewer_portal.get(path)
    assert response.status_code == 200 and "text/html" in response.headers["Content-Type"]


def test_transactions_filter_by_client_status_and_unique_id(admin_portal, integrator, downstream):
    ids = [unique_name("tx") for _ in range(3)]
    for unique_id in ids:
        assert integrator.pay(integrator.message(f010=unique_id)).status_code == 200
    app_id = integrator.client["app_id"]

    by_client = admin_portal.get(f"/portal/transactions?client={app_id}").text
    assert all(unique_id in by_client for unique_id in ids) and "3 in all" in by_client
    one = admin_portal.get(f"/portal/transactions?client={app_id}&f010={ids[1]}").text
    assert ids[1] in one and ids[0] not in one and "1 in all" in one
    assert "0 in all" in admin_portal.get(f"/portal/transactions?client={app_id}&status=FAILED").text
    service = f"{integrator.service['microservice']}/collection/payment"
    assert "3 in all" in admin_portal.get(f"/portal/transactions?service={service}").text


def test_the_sql_error_of_a_transaction_is_shown_to_admins_and_dbas_only(admin, admin_portal, viewer_portal,
                                                                          portal_as, integrator):
    assert admin.put(f"/functions/{fn_of(integrator)}", {"source": RAISING_SOURCE.format(name=fn_of(integrator))}
                     ).status_code == 200
    unique_id = unique_name("err")
    assert integrator.pay(integrator.message(f010=unique_id)).json()["error"]["code"] == "FUNCTION_ERROR"
    listing = admin_portal.get(f"/portal/transactions?f010={unique_id}").text
    ref = listing.split("/portal/transactions/")[1].split('"')[0]

    for session in (admin_portal, portal_as("dba")):
        assert "division by zero" in session.get(f"/portal/transactions/{ref}").text
    hidden = viewer_portal.get(f"/portal/transactions/{ref}").text
    assert "division by zero" not in hidden and "admins and DBAs can see it" in hidden
    assert viewer_portal.get("/portal/transactions/not-a-uuid").status_code == 404


def test_a_secret_field_is_shown_masked(admin_portal, integrator):
    unique_id = unique_name("pin")
    assert integrator.pay(integrator.message(f010=unique_id, f007="98765")).status_code == 200
    ref = admin_portal.get(f"/portal/transactions?f010={unique_id}").text.split("/portal/transactions/")[1][:36]
    page = admin_portal.get(f"/portal/transactions/{ref}").text
    assert "98765" not in page and "****" in page


def test_rotate_deactivate_and_activate_a_client(admin, admin_portal, integrator):
    app_id = integrator.client["app_id"]
    rotated = admin_portal.submit(f"/portal/clients/{app_id}/rotate", {"confirmed": "yes"})
    assert rotated.status_code == 200 and "The old username and password have stopped working" in rotated.text
    assert integrator.pay().status_code == 401
    flashed(admin_portal, admin_portal.submit(f"/portal/clients/{app_id}/deactivate"))
    assert admin.get(f"/clients/{app_id}").json()["active"] is False
    assert "activated" in flashed(admin_portal, admin_portal.submit(f"/portal/clients/{app_id}/activate"))
    assert admin.get(f"/clients/{app_id}").json()["active"] is True


def test_client_search(admin_portal, admin):
    name = unique_name("Findable ")
    admin.create_client(name=name)
    found = admin_portal.get(f"/portal/clients?q={name.split()[1]}").text
    assert name in found and "Route Owner" not in found


def test_assign_then_unassign_a_service_without_transactions(admin, admin_portal, downstream):
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay")
    key = f"{service['microservice']}/collection/payment"
    page = flashed(admin_portal, admin_portal.submit(f"/portal/clients/{client['app_id']}/assign", {"service": key}))
    assert "its functions were generated" in page
    fn = f"{client['app_id']}_{service['microservice']}_payment"
    assert fn in page and admin.get(f"/functions/{fn}").status_code == 200

    page = flashed(admin_portal, admin_portal.submit(f"/portal/clients/{client['app_id']}/routes/{key}/unassign"))
    assert f"Removed {key}" in page
    assert admin.get(f"/functions/{fn}").status_code == 404
    assert admin.get(f"/clients/{client['app_id']}").json()["services"] == []


def test_a_route_with_transactions_cannot_be_unassigned_only_disabled(admin, admin_portal, integrator):
    assert integrator.pay().status_code == 200
    app_id, ms = integrator.client["app_id"], integrator.service["microservice"]
    refused = flashed(admin_portal, admin_portal.submit(f"/portal/clients/{app_id}/routes/{ms}/collection/payment"
                                                        "/unassign"))
    assert "disable it instead" in refused
    disabled = admin_portal.submit(f"/portal/routes/{app_id}/{ms}/collection/payment/disable",
                                   {"back": f"/portal/clients/{app_id}"})
    assert disabled.headers["Location"].endswith(f"/portal/clients/{app_id}")
    assert integrator.pay().status_code == 403
    routes_page = admin_portal.get(f"/portal/routes?client={app_id}").text
    assert "enabled: false" in routes_page and f"app_id: {app_id}" in routes_page


def test_edit_a_service_and_its_fields(admin, admin_portal, integrator, downstream):
    ms = integrator.service["microservice"]
    form = admin_portal.get(f"/portal/services/{ms}/collection/payment/edit").text
    assert 'value="amount"' in form and 'value="1000000"' in form
    data = {"microservice": ms, "service": "collection", "route": "payment", "url": downstream.url + "/moved",
            "method": "POST", "timeout_ms": "1500", "template": "generic_json",
            "fields-0-use": "y", "fields-0-name": "amount", "fields-0-type": "amount", "fields-0-required": "y",
            "fields-0-max": "100", "fields-2-use": "y", "fields-2-name": "msisdn", "fields-2-type": "msisdn",
            **{f"fields-{i}-name": "" for i in (1, 3, 4, 5)}}  # a browser posts every row's inputs
    saved = admin_portal.submit(f"/portal/services/{ms}/collection/payment/edit", data)
    assert saved.status_code == 302, saved.text
    service = next(s for s in admin.get("/services").json()["services"] if s["microservice"] == ms)
    assert service["url"].endswith("/moved") and service["timeout_ms"] == 1500
    assert [f["code"] for f in service["fields"]] == ["f004", "f006"]
    over = integrator.message(f004="101")
    over.pop("f005")
    refused = integrator.pay(over)
    assert refused.status_code == 400 and list(refused.json()["error"]["details"]) == ["f004"]
    assert integrator.pay({**over, "f004": "99"}).status_code == 200
    assert downstream.received[-1]["path"] == "/moved"


def test_rollback_diff_and_regenerate_ask_before_overwriting(admin, portal_as, integrator):
    dba, fn = portal_as("dba"), fn_of(integrator)
    source = RAISING_SOURCE.format(name=fn).replace("1 / 0", "'edited'")
    saved = dba.post(f"/portal/functions/{fn}/edit", data={"source": source, "note": "by the dba",
                                                           "csrf_token": dba.token(f"/portal/functions/{fn}/edit")})
    assert saved.status_code == 302
    diff = dba.get(f"/portal/functions/{fn}/diff?from=1&to=2").text
    assert "&#39;edited&#39;" in diff or "'edited'" in diff

    asked = dba.submit(f"/portal/functions/{fn}/regenerate")
    assert asked.status_code == 409 and "This function was customised" in asked.text
    assert [v["version"] for v in admin.get(f"/functions/{fn}/versions").json()["versions"]] == [2, 1]
    confirmed = dba.submit(f"/portal/functions/{fn}/regenerate", {"force": "yes"}, form_page=None)
    assert confirmed.status_code == 302
    page = flashed(dba, dba.submit(f"/portal/functions/{fn}/rollback", {"version": "2", "confirmed": "yes"}))
    assert "Rolled back to version 2" in page
    versions = admin.get(f"/functions/{fn}/versions").json()["versions"]
    assert [v["version"] for v in versions] == [4, 3, 2, 1] and versions[0]["note"] == "rollback to version 2"


def test_drift_is_badged_and_recorded_in_one_click(admin, admin_portal, rt, integrator):
    fn = fn_of(integrator)
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as conn:
        conn.execute(RAISING_SOURCE.format(name=fn).replace("1 / 0", "'psql'"))
    listing = admin_portal.get("/portal/functions").text
    row = listing.split(f'data-function="{fn}"')[1].split("</tr>")[0]
    assert "drift" in row and "Record drift" in row
    page = flashed(admin_portal, admin_portal.submit(f"/portal/functions/{fn}/record-drift", {"back": "list"}))
    assert f"Recorded {fn}" in page
    assert admin.get(f"/functions/{fn}").json()["drift"] == "in_step"


def test_test_run_of_a_response_function_with_a_sample_answer(admin_portal, integrator, downstream):
    fn = "RESPONSE_" + fn_of(integrator)
    form = admin_portal.get(f"/portal/functions/{fn}/test").text
    assert "f004" in form and "data-sample" in form
    result = admin_portal.submit(f"/portal/functions/{fn}/test", {
        "request_json": '{"f004": "1500", "f010": "T-1"}',
        "response_json": '{"status_code": 200, "body": {"status": "FAILED", "code": "NOT_ENOUGH_FUNDS"}}'},
        form_page=f"/portal/functions/{fn}/test")
    assert result.status_code == 200 and "NOT_ENOUGH_FUNDS" in result.text and "test-output" in result.text
    bad = admin_portal.submit(f"/portal/functions/{fn}/test", {"request_json": "{not json"})
    assert "Not valid JSON" in bad.text
    assert not downstream.received


def test_an_admin_adds_a_user_who_must_change_the_password(base_url, admin_portal):
    username = unique_name("newdba")
    created = admin_portal.submit("/portal/users", {"username": username, "role": "dba",
                                                    "password": "first-password-1"})
    assert created.status_code == 302
    assert username in admin_portal.get("/portal/users").text
    session = PortalSession(base_url)
    assert session.sign_in(username, "first-password-1").headers["Location"].endswith("/portal/password")
    duplicate = admin_portal.submit("/portal/users", {"username": username, "role": "dba",
                                                      "password": "first-password-1"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.text


def test_an_admin_changes_a_users_role_and_state_on_the_users_page(admin_portal, admin, portal_as):
    dba = portal_as("dba")

    changed = admin_portal.submit(f"/portal/users/{dba.username}/update", {"role": "viewer", "active": "no"},
                                  form_page="/portal/users")

    assert changed.status_code == 302
    user = next(u for u in admin.get("/users").json()["users"] if u["username"] == dba.username)
    assert (user["role"], user["active"]) == ("viewer", False)
    assert dba.get("/portal/").status_code == 302  # signed out: the account is inactive


def test_the_audit_log_shows_who_did_what(admin_portal):
    name = unique_name("audited")
    admin_portal.submit("/portal/clients/new", {"name": name})
    table = admin_portal.get("/portal/audit?action=client").text.split('id="audit-table"')[1]
    assert "client.create" in table and name in table
    other = admin_portal.get("/portal/audit?action=user.create").text.split('id="audit-table"')[1]
    assert "client.create" not in other


def test_sign_out_ends_the_session(base_url, portal_as):
    session = portal_as("viewer")
    assert session.submit("/portal/logout").status_code == 302
    assert session.get("/portal/").status_code == 302
