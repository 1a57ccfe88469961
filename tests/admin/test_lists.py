"""Lists paged by keyset: newest first, next and previous by cursor, the same at any depth, filters composed."""

import pytest

from gateway.admin import keyset, lists
from gateway.db import compose


@pytest.fixture
def seven_payments(integrator, db):
    """Seven payments of one fresh client, all stamped with the same instant (only the id orders them)."""
    unique_ids = []
    for _ in range(7):
        message = integrator.message()
        assert integrator.pay(message).status_code == 200
        unique_ids.append(message["f010"])
    db("UPDATE mospay.transactions SET created_at = '2026-03-01T10:00:00Z' WHERE unique_id = ANY(%s) RETURNING id",
       (unique_ids,))
    return integrator, unique_ids[::-1]  # newest first


def _ids(answer):
    assert answer.status_code == 200, answer.text
    return [row["unique_id"] for row in answer.json()["transactions"]]


def test_an_admin_walks_a_clients_payments_three_at_a_time_and_back(admin, seven_payments):
    integrator, newest_first = seven_payments
    app_id = integrator.client["app_id"]
    first = admin.get(f"/transactions?client={app_id}&limit=3")
    assert _ids(first) == newest_first[:3]
    assert first.json()["total"] == 7 and first.json()["prev_cursor"] is None
    second = admin.get(f"/transactions?client={app_id}&limit=3&after={first.json()['next_cursor']}")
    assert _ids(second) == newest_first[3:6]
    last = admin.get(f"/transactions?client={app_id}&limit=3&after={second.json()['next_cursor']}")
    assert _ids(last) == newest_first[6:] and last.json()["next_cursor"] is None
    back = admin.get(f"/transactions?client={app_id}&limit=3&before={last.json()['prev_cursor']}")
    assert _ids(back) == newest_first[3:6]
    top = admin.get(f"/transactions?client={app_id}&limit=3&before={back.json()['prev_cursor']}")
    assert _ids(top) == newest_first[:3] and top.json()["prev_cursor"] is None


def test_each_filter_narrows_the_list_and_a_reference_finds_its_payment(admin, seven_payments, db):
    integrator, newest_first = seven_payments
    app_id = integrator.client["app_id"]
    ref = db("SELECT ref::text FROM mospay.transactions WHERE unique_id = %s", (newest_first[2],))[0]["ref"]
    assert _ids(admin.get(f"/transactions?ref={ref}")) == [newest_first[2]]
    assert _ids(admin.get("/transactions?ref=not-a-reference")) == []
    assert _ids(admin.get(f"/transactions?f010={newest_first[4]}")) == [newest_first[4]]
    service = "/".join(integrator.service[k] for k in ("microservice", "service", "route"))
    assert _ids(admin.get(f"/transactions?service={service}&status=SUCCESS&limit=50")) == newest_first
    assert _ids(admin.get(f"/transactions?client={app_id}&status=FAILED")) == []
    assert _ids(admin.get(f"/transactions?client={app_id}&from=2026-03-01&to=2026-03-01&limit=50")) == newest_first
    assert _ids(admin.get(f"/transactions?client={app_id}&from=2026-03-02")) == []


@pytest.mark.parametrize(("query", "field"), [
    ("after=bm90LWEtY3Vyc29y", "after"), ("before=%%%", "before"), ("limit=0", "limit"), ("limit=x", "limit"),
    ("status=PAID", "status"), ("from=2026-13-01", "from")])
def test_a_bad_cursor_or_filter_is_a_400_naming_it(admin, query, field):
    answer = admin.get(f"/transactions?{query}")
    assert answer.status_code == 400 and field in answer.json()["error"]["details"]


def test_api_logs_and_the_audit_log_page_the_same_way(admin, seven_payments):
    integrator, _ = seven_payments
    logs = admin.get(f"/api-logs?client={integrator.client['app_id']}&limit=5").json()
    assert len(logs["api_logs"]) == 5 and logs["total"] == 7 and logs["next_cursor"]
    audit = admin.get("/audit?action=client&limit=1").json()
    assert audit["entries"][0]["action"].startswith("client") and audit["next_cursor"]


def test_each_filter_combination_is_its_own_statement_with_only_its_clauses():
    sql, params = compose.compiled(lists.transactions_query({"status": "FAILED"}))
    assert "status = %(status_1)s" in sql and "client_id =" not in sql.split("WHERE", 1)[1]
    sql, params = compose.compiled(lists.transactions_query({"app_id": "shop", "status": "FAILED"}))
    assert "mospay.clients.app_id = %(app_id_1)s" in sql and params["app_id_1"] == "shop"


def test_a_cursor_round_trips_and_anything_else_is_refused():
    position = keyset.Position(keyset.dt.datetime(2026, 3, 1, 10, tzinfo=keyset.dt.UTC), 42)
    assert keyset.decode(keyset.encode(position)) == position
    with pytest.raises(keyset.ValidationFailed):
        keyset.decode("a2F8bm90LWEtdGltZXw0Mg")
