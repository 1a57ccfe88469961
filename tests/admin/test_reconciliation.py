"""Reconciliation of a provider's statement: every kind of discrepancy, proposals into the four-eyes queue,
idempotent re-runs, a precise 400 for a bad file, and 100,000 lines matched in SQL."""

import csv
import io
import time
from decimal import Decimal

import pytest
import requests

from tests.factories import Admin, user_token

MAPPING = {"columns": {"reference": "TxnRef", "amount": "Amt", "currency": "Ccy", "status": "Result",
                       "time": "Date"}, "match_on": "ref", "statuses": {"OK": "SUCCESS"}}


def statement(*lines, header=("Date", "TxnRef", "Payer", "Amt", "Ccy", "Result")):
    """A provider statement as CSV bytes, a spreadsheet's way (CRLF, quoted where needed)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(lines)
    return out.getvalue().encode()


def upload(admin, microservice, data, **params):
    return requests.post(f"{admin.base_url}/api/v1/admin/reconciliation/runs", data=data,
                         params={"microservice": microservice, **params},
                         headers={**admin.headers, "Content-Type": "text/csv"}, timeout=120)


def decline(downstream):
    downstream.behaviour = lambda path, headers, body: (200, {"status": "FAILED", "code": "DECLINED"}, 0)


@pytest.fixture
def day(integrator, downstream, admin):
    """A day of one provider: what the switch recorded, by the names the statement will tell."""
    pay = {name: integrator.pay(integrator.message(f004=amount, f005=currency)).json()
           for name, amount, currency in [("agreed", "1500", "RWF"), ("lost", "2000", "RWF"),
                                          ("short", "700", "RWF"), ("dollars", "100", "RWF")]}
    decline(downstream)
    pay["declined"] = integrator.pay(integrator.message(f004="300")).json()
    # The provider could not tell: money may have moved.
    downstream.behaviour = lambda path, headers, body: (200, {"status": "UNKNOWN", "code": "PROVIDER_TIMEOUT"}, 0)
    pay["unknown"] = integrator.pay(integrator.message(f004="900")).json()
    assert pay["unknown"]["status"] == "UNKNOWN" and pay["declined"]["status"] == "FAILED"
    assert admin.put(f"/reconciliation/mappings/{integrator.service['microservice']}", MAPPING).status_code == 200
    return integrator, pay


def test_a_statement_shows_every_kind_of_discrepancy_and_proposes_what_the_provider_settled(admin, day, base_url):
    integrator, pay = day
    today = time.strftime("%Y-%m-%d")
    ref = {name: answer["transaction_ref"] for name, answer in pay.items()}
    data = statement(
        (today, ref["agreed"], "2507…", "1500.00", "RWF", "SUCCESSFUL"),
        (today, ref["short"].upper(), "2507…", "650", "RWF", "SUCCESSFUL"),   # they paid less
        (today, ref["dollars"], "2507…", "100", "USD", "SUCCESSFUL"),         # in another currency
        (today, ref["declined"], "2507…", "300", "RWF", "FAILED"),
        (today, ref["unknown"], "2507…", "900", "RWF", "OK"),                  # the mapping's own word
        (today, "ffffffff-0000-4000-8000-000000000000", "2507…", "50", "RWF", "SUCCESSFUL"),  # not ours
        (today, ref["agreed"], "2507…", "1500", "RWF", "SUCCESSFUL"),          # listed twice
        (today, "bad-line", "2507…", "12,50", "RWF", "SUCCESSFUL"),            # not a number
    )

    created = upload(admin, integrator.service["microservice"], data, file_name="mtn-2026-12-01.csv")

    assert created.status_code == 201, created.text
    run = created.json()
    assert run["figures"]["outcomes"] == {
        "matched": 2, "missing_at_provider": 1, "missing_at_switch": 1, "amount_mismatch": 1,
        "currency_mismatch": 1, "state_mismatch": 1, "duplicate": 1, "invalid_line": 1}
    assert run["figures"]["lines"] == 8 and run["figures"]["proposals"] == 1
    assert run["figures"]["matched_amounts"] == [{"currency": "RWF", "amount": "1800.00", "count": 2}]
    found = admin.get(f"/reconciliation/runs/{run['id']}?limit=50").json()["discrepancies"]
    by_kind = {d["kind"]: d for d in found}
    assert by_kind["missing_at_provider"]["transaction_ref"] == ref["lost"] and by_kind["missing_at_provider"][
        "line"] is None
    assert Decimal(by_kind["amount_mismatch"]["their_amount"]) == 650 and by_kind["amount_mismatch"]["line"] == 3
    assert by_kind["invalid_line"]["detail"] == "amount '12,50' is not a number"
    assert (by_kind["state_mismatch"]["our_status"], by_kind["state_mismatch"]["their_status"]) == (
        "UNKNOWN", "SUCCESS")

    # The UNKNOWN payment is offered to the four-eyes queue, proposed by the uploader: not settled yet.
    proposal = next(p for p in admin.get("/resolutions?state=open").json()["resolutions"]
                    if p["transaction_ref"] == ref["unknown"])
    assert proposal["proposed_status"] == "SUCCESS" and proposal["proposed_by"] == "admin"
    assert proposal["evidence"]["reconciliation_run"] == str(run["id"])
    assert by_kind["state_mismatch"]["resolution_id"] == proposal["id"]
    assert admin.post(f"/resolutions/{proposal['id']}/approve").status_code == 403  # not by the proposer
    checker = Admin(base_url, user_token(base_url, admin, "admin"))
    assert checker.post(f"/resolutions/{proposal['id']}/approve").json()["status"] == "SUCCESS"

    # The same file again is the same run: nothing is counted or proposed twice.
    again = upload(admin, integrator.service["microservice"], data)
    assert again.status_code == 200 and again.json()["replayed"] is True and again.json()["id"] == run["id"]

    exported = requests.get(f"{base_url}/api/v1/admin/reconciliation/runs/{run['id']}/discrepancies.csv",
                            headers=admin.headers, timeout=30)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["Content-Type"].startswith("text/csv") and len(rows) == 7
    assert {r["kind"] for r in rows} == set(run["figures"]["outcomes"]) - {"matched"}


@pytest.mark.parametrize("data, content_type, status, where", [
    (statement(("2026-12-01", "x", "1", "RWF", "OK"), header=("Date", "Ref", "Amt", "Ccy", "Result")),
     "text/csv", 400, "reference"),                                                    # no TxnRef column
    (statement(("2026-12-01", "x", "p", "1", "RWF", "OK", "extra")), "text/csv", 400, "file"),  # a line too long
    (b"", "text/csv", 400, "file"),
    (b"Date,TxnRef,Payer,Amt,Ccy,Result\n2026-12-01,\xff\xfe,p,1,RWF,OK\n", "text/csv", 400, "file"),  # not UTF-8
    (b'{"a": 1}', "application/json", 415, None),
    (statement(("yesterday", "x", "p", "1", "RWF", "OK")), "text/csv", 400, "from"),  # no period to be had
])
def test_a_bad_statement_is_refused_precisely_and_nothing_is_stored(admin, day, data, content_type, status, where):
    integrator, _ = day
    before = admin.get("/reconciliation/runs").json()["runs"]

    response = requests.post(f"{admin.base_url}/api/v1/admin/reconciliation/runs", data=data,
                             params={"microservice": integrator.service["microservice"]},
                             headers={**admin.headers, "Content-Type": content_type}, timeout=30)

    assert response.status_code == status, response.text
    if where:
        assert where in response.json()["error"]["details"], response.text
    assert admin.get("/reconciliation/runs").json()["runs"] == before


def test_a_mapping_is_checked_and_an_unknown_provider_is_404(admin, day):
    integrator, _ = day
    bad = admin.put(f"/reconciliation/mappings/{integrator.service['microservice']}",
                    {"columns": {"amount": "Amt"}, "match_on": "iban", "statuses": {"PAID": "MAYBE"}})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {"columns", "match_on", "statuses"}
    assert admin.get("/reconciliation/mappings/nosuchprovider").status_code == 404
    assert upload(admin, "nosuchprovider", statement()).status_code == 404


def test_a_100000_line_statement_with_every_discrepancy_is_reconciled_in_sql(admin, integrator, db, capsys):
    """A provider's month: 100,000 of our payments and a statement of 100,000 lines disagreeing in every way."""
    paid = integrator.pay(integrator.message(f004="1000")).json()
    # Our side: 100,000 payments of this provider (copies of a real one), every 50th UNKNOWN.
    db("INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, request, "
       "currency) SELECT client_id, client_service_id, 'bulk-' || n, payload_hash, "
       "CASE WHEN n %% 50 = 0 THEN 'UNKNOWN' ELSE 'SUCCESS' END, "
       "request || jsonb_build_object('f004', (n %% 900 + 100)::text), currency "
       "FROM mospay.transactions, generate_series(1, 99999) AS n WHERE ref = %s::uuid RETURNING id",
       (paid["transaction_ref"],))
    ours = db("SELECT ref::text AS ref, status, request ->> 'f004' AS amount FROM mospay.transactions t "
              "WHERE client_id = (SELECT client_id FROM mospay.transactions WHERE ref = %s::uuid) ORDER BY id",
              (paid["transaction_ref"],))
    assert len(ours) == 100_000
    today = time.strftime("%Y-%m-%d")
    lines, proposals, expected = [], 0, dict.fromkeys(("missing_at_provider", "missing_at_switch", "amount_mismatch",
                                         "currency_mismatch", "state_mismatch", "duplicate", "invalid_line"), 0)
    for n, row in enumerate(ours):
        amount, currency, result = row["amount"], "RWF", "SUCCESSFUL"
        if n % 1000 in (1, 6, 7, 8, 9, 10):  # the provider never booked these
            expected["missing_at_provider"] += row["status"] == "SUCCESS"
            continue
        if n % 1000 == 2:
            amount, kind = str(Decimal(amount) + 1), "amount_mismatch"
        elif n % 1000 == 3:
            currency, kind = "KES", "currency_mismatch"
        elif n % 1000 == 4:
            amount, kind = "n/a", "invalid_line"
        elif row["status"] == "UNKNOWN":  # the provider paid it: proposed for a second admin's approval
            kind, proposals = "state_mismatch", proposals + 1
        elif n % 1000 == 5:
            result, kind = "FAILED", "state_mismatch"
        else:
            kind = "matched"
        expected[kind] = expected.get(kind, 0) + 1
        lines.append((today + "T10:00:00Z", row["ref"], amount, currency, result))
    for n in range(1, 1 + 100_000 - len(lines) - 100):
        lines.append((today, f"ext-{n}", "10", "RWF", "SUCCESSFUL"))
    lines += lines[10:110]  # 100 lines listed twice
    expected["missing_at_switch"] = sum(1 for line in lines[:-100] if line[1].startswith("ext-"))
    expected["duplicate"] = 100
    data = statement(*lines, header=("time", "reference", "amount", "currency", "status"))
    assert len(lines) == 100_000

    started = time.perf_counter()
    created = upload(admin, integrator.service["microservice"], data)
    seconds = time.perf_counter() - started

    assert created.status_code == 201, created.text[:500]
    figures = created.json()["figures"]
    with capsys.disabled():
        in_service = float(created.json()["duration_ms"]) / 1000
        print(f"\nreconciled {len(lines):,} statement lines ({len(data) / 1e6:.1f} MB) against {len(ours):,} "
              f"payments in {seconds:.2f} s over HTTP ({in_service:.2f} s in the service): {figures['outcomes']}")
    assert figures["outcomes"] == expected and min(expected.values()) >= 100
    assert figures["proposals"] == proposals
    assert seconds < 60


def test_a_statement_over_its_limit_is_413_in_the_error_shape(admin, integrator, rt):
    limit, rt.config.MAX_STATEMENT_BYTES = rt.config.MAX_STATEMENT_BYTES, 100_000
    try:
        refused = upload(admin, integrator.service["microservice"], statement(*[("2026-12-01", "r", "p", "1", "RWF",
                                                                                 "SUCCESS")] * 5000))
    finally:
        rt.config.MAX_STATEMENT_BYTES = limit
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
