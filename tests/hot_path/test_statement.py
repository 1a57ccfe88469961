"""An integrator's statement: GET /api/v1/payments, its own payments newest first, page by keyset cursor."""

import pytest
import requests

from tests.factories import Integrator


def statement(integrator, **params):
    return requests.get(f"{integrator.base_url}/api/v1/payments", params=params, auth=integrator.auth,
                        headers=integrator.headers, timeout=10)


def test_pages_cover_every_payment_once_newest_first(integrator):
    refs = [integrator.pay().json()["transaction_ref"] for _ in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        page = statement(integrator, limit=2, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        seen += [p["transaction_ref"] for p in page.json()["payments"]]
        cursor, pages = page.json()["next_cursor"], pages + 1
        if cursor is None:
            break

    assert seen == list(reversed(refs)) and pages == 3
    first = statement(integrator, limit=1).json()["payments"][0]
    assert first["status"] == "SUCCESS" and first["code"] and first["created_at"] and first["completed_at"]


def test_filters_by_state_and_time(integrator, downstream):
    integrator.pay()
    downstream.behaviour = lambda path, headers, body: (200, {"status": "FAILED", "code": "DECLINED"}, 0)
    declined = integrator.pay().json()["transaction_ref"]

    failed = statement(integrator, status="FAILED").json()["payments"]
    future = statement(integrator, **{"from": "2999-01-01"}).json()["payments"]

    assert [p["transaction_ref"] for p in failed] == [declined] and failed[0]["code"] == "DECLINED"
    assert future == []


def test_a_client_sees_only_its_own_payments(integrator, admin, base_url):
    other_client = admin.create_client()
    admin.assign(other_client, integrator.service)
    other = Integrator(base_url, other_client, integrator.service)
    mine = integrator.pay().json()["transaction_ref"]
    cursor_of_mine = statement(integrator, limit=1).json()

    theirs = statement(other).json()["payments"]
    # A cursor made from another client's page still reads only the caller's payments.
    assert mine not in {p["transaction_ref"] for p in theirs}
    assert statement(other, cursor=cursor_of_mine["next_cursor"] or "djE6OTk5OTk5").status_code == 200


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"), ({"cursor": "djI6MTI"}, "cursor"),
    ({"from": "yesterday"}, "from"), ({"status": "PAID"}, "status"),
])
def test_bad_parameters_are_named(integrator, params, field):
    response = statement(integrator, **params)
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_the_statement_needs_the_client_s_credentials(integrator):
    response = requests.get(f"{integrator.base_url}/api/v1/payments", headers=integrator.headers, timeout=10)
    assert response.status_code == 401
