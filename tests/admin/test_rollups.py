"""Rollups stay exact: after a mix of payments, late state changes and folds, they equal the raw rows."""

from decimal import Decimal

import pytest

from gateway.admin import reports, rollups
from gateway.follow_up import jobs
from gateway.hot_path.settlement import PENDING, Settlement, settle

# The raw truth the rollups must equal: every transaction of the client, by bucket.
RAW = """
SELECT date_trunc('hour', created_at) AS hour, client_service_id, currency, status,
       count(*) AS count,
       coalesce(sum(CASE WHEN request ->> 'f004' ~ '^[0-9]{1,15}([.][0-9]{1,4})?$'
                         THEN (request ->> 'f004')::numeric END), 0) AS amount
FROM mospay.transactions WHERE client_id = %(client_id)s
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
FOLDED = """
SELECT hour, client_service_id, currency, status, count, amount
FROM mospay.transaction_rollups WHERE client_id = %(client_id)s AND count <> 0
ORDER BY 1, 2, 3, 4
"""
RAW_DAILY = RAW.replace("date_trunc('hour', created_at) AS hour", "created_at::date AS day")
FOLDED_DAILY = FOLDED.replace("SELECT hour,", "SELECT day,").replace("transaction_rollups ",
                                                                     "transaction_rollups_daily ")
# The settlement report as it was computed before rollups: straight from the raw rows.
RAW_REPORT = """
SELECT count(*) AS count, count(*) FILTER (WHERE status = 'SUCCESS') AS success,
       count(*) FILTER (WHERE status IN ('PENDING', 'UNKNOWN', 'RECEIVED')) AS open,
       coalesce(sum((request ->> 'f004')::numeric) FILTER (WHERE status = 'SUCCESS'), 0) AS volume,
       coalesce(sum((request ->> 'f004')::numeric) FILTER (WHERE status IN ('PENDING', 'UNKNOWN')), 0) AS open_amount
FROM mospay.transactions WHERE client_id = %(client_id)s AND currency = %(currency)s
"""


def _answer(status, code):
    return lambda path, headers, body: (200, {"status": status, "code": code, "message": code.lower()}, 0)


@pytest.fixture
def mixed_payments(integrator, downstream):
    """Payments in RWF and USD, some with odd amounts, ending SUCCESS, FAILED and PENDING."""
    paid = []
    plan = [("SUCCESS", "1500", "RWF"), ("SUCCESS", "1.25", "USD"), ("FAILED", "700", "RWF"),
            ("PENDING", "2500.5", "RWF"), ("PENDING", "9", "USD"), ("PENDING", "120", "RWF"),
            ("SUCCESS", "33.3333", "USD")]
    for status, amount, currency in plan:
        downstream.behaviour = _answer(status, status)
        answer = integrator.pay(integrator.message(f004=amount, f005=currency))
        assert answer.json()["status"] == status, answer.text
        paid.append(answer.json())
    return paid


def _client_id(db, integrator):
    return db("SELECT id FROM mospay.clients WHERE app_id = %s", (integrator.client["app_id"],))[0]["id"]


def _report_for(rt, integrator, currency):
    """The settlement report's row of today for the client and currency (through the rollups and tail)."""
    rows = [r for r in reports.settlement(rt, {})["rows"]
            if r["app_id"] == integrator.client["app_id"] and r["currency"] == currency]
    assert len(rows) == 1
    return rows[0]


def _assert_report_is_raw(rt, db, integrator, client_id):
    for currency in ("RWF", "USD"):
        raw = db(RAW_REPORT, {"client_id": client_id, "currency": currency})[0]
        shown = _report_for(rt, integrator, currency)
        assert {k: shown[k] for k in raw} == raw


def _settle_late(rt, db, ref, status):
    """A provider's late word on a PENDING payment, through the one settlement statement."""
    row = db("SELECT id, unique_id FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]
    answer = {"status": status, "code": "LATE", "message": "late", "data": {}}
    with rt.db.transaction() as conn:
        assert settle(conn, row["id"], (PENDING,), Settlement.from_answer(answer, ref, row["unique_id"]))


def test_rollups_equal_the_raw_rows_through_payments_folds_and_late_changes(rt, db, integrator, downstream,
                                                                            mixed_payments):
    client_id = _client_id(db, integrator)
    _assert_report_is_raw(rt, db, integrator, client_id)  # nothing folded yet: the tail alone is exact

    assert rollups.fold(rt, claim_grace_seconds=0) >= len(mixed_payments)
    assert db(FOLDED, {"client_id": client_id}) == db(RAW, {"client_id": client_id})
    usd = _report_for(rt, integrator, "USD")
    assert usd["volume"] == Decimal("34.5833") and usd["open_amount"] == Decimal("9")  # never summed with RWF

    pending = [p["transaction_ref"] for p in mixed_payments if p["status"] == "PENDING"]
    _settle_late(rt, db, pending[0], "SUCCESS")  # PENDING → SUCCESS after it was folded as PENDING
    _settle_late(rt, db, pending[1], "FAILED")
    downstream.behaviour = _answer("SUCCESS", "OK")
    assert integrator.pay(integrator.message(f004="10", f005="RWF")).json()["status"] == "SUCCESS"
    _assert_report_is_raw(rt, db, integrator, client_id)  # changed since the fold: exact through the tail

    rollups.fold(rt, batch=2, claim_grace_seconds=0)  # small batches: the fold is resumable
    assert db(FOLDED, {"client_id": client_id}) == db(RAW, {"client_id": client_id})
    assert db(FOLDED_DAILY, {"client_id": client_id}) == db(RAW_DAILY, {"client_id": client_id})
    _assert_report_is_raw(rt, db, integrator, client_id)
    assert rollups.fold(rt, claim_grace_seconds=0) == 0  # nothing moved since: nothing to fold


def test_the_dashboard_chart_counts_each_payment_once_in_its_current_state(rt, db, integrator, mixed_payments):
    before = sum(h["count"] for h in reports.dashboard(rt).hourly)
    rollups.fold(rt, claim_grace_seconds=0)
    _settle_late(rt, db, [p for p in mixed_payments if p["status"] == "PENDING"][2]["transaction_ref"], "SUCCESS")
    hours = reports.dashboard(rt).hourly
    assert sum(h["count"] for h in hours) == before  # moved from PENDING to SUCCESS, not counted twice
    assert all(count > 0 for h in hours for count in h["states"].values())


def test_a_fresh_claim_is_left_to_the_hot_path_until_its_grace_passes(rt, db, integrator):
    client_id = _client_id(db, integrator)
    route = db("SELECT id FROM mospay.client_services WHERE client_id = %s", (client_id,))[0]["id"]
    db("INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, request, "
       "currency) VALUES (%s, %s, 'claimed-now', '\\x00', 'RECEIVED', '{\"f004\": \"5\", \"f005\": \"RWF\"}', 'RWF') "
       "RETURNING id",
       (client_id, route))
    rollups.fold(rt)  # the default grace: the claim is not locked nor counted in a bucket yet
    assert db("SELECT rolled_status FROM mospay.transactions WHERE unique_id = 'claimed-now'")[0]["rolled_status"] \
        is None
    assert _report_for(rt, integrator, "RWF")["open"] == 1  # yet the report counts it, from the tail
    rollups.fold(rt, claim_grace_seconds=0)
    assert db(FOLDED, {"client_id": client_id}) == db(RAW, {"client_id": client_id})


def test_the_worker_folds_as_part_of_its_loop(rt, db, integrator):
    answer = integrator.pay().json()
    jobs.work(rt, once=True)
    row = db("SELECT status, rolled_status FROM mospay.transactions WHERE ref = %s::uuid",
             (answer["transaction_ref"],))[0]
    assert row["rolled_status"] == row["status"] == "SUCCESS"
