"""The settlement report: per day × client × service × currency, counts and exact amounts by state."""

import csv
import io
from decimal import Decimal

import pytest

from gateway.admin import reports


@pytest.fixture
def paid(integrator, downstream):
    """Two successes (1,500.25 and 2,000 RWF), one failure (700 RWF) and one USD success (10.50) today."""
    integrator.pay(integrator.message(f004="1500.25"))
    integrator.pay(integrator.message(f004="2000"))
    integrator.pay(integrator.message(f004="10.50", f005="USD"))
    downstream.behaviour = lambda path, headers, body: (200, {"status": "FAILED", "code": "DECLINED"}, 0)
    integrator.pay(integrator.message(f004="700"))
    return integrator


def mine(report, integrator):
    return [r for r in report["rows"] if r["app_id"] == integrator.client["app_id"]]


def test_amounts_are_exact_and_never_added_across_currencies(admin, paid):
    report = admin.get("/reports/settlement").json()

    rows = {r["currency"]: r for r in mine(report, paid)}
    assert set(rows) == {"RWF", "USD"}
    assert (rows["RWF"]["count"], rows["RWF"]["success"], rows["RWF"]["failed"]) == (3, 2, 1)
    assert Decimal(rows["RWF"]["volume"]) == Decimal("3500.25") and Decimal(rows["RWF"]["failed_amount"]) == 700
    assert Decimal(rows["USD"]["volume"]) == Decimal("10.50")
    totals = {t["currency"]: t for t in report["totals"]}
    assert Decimal(totals["USD"]["volume"]) >= Decimal("10.50")  # a total per currency, no grand sum of both


def test_the_report_matches_the_dashboards_figures(admin, paid, rt):
    """One query feeds both: today's dashboard volume is the report's, currency by currency."""
    today = reports.dashboard(rt).today
    report = reports.settlement(rt, {})
    for total in report["totals"]:
        assert today.volume.get(total["currency"], Decimal(0)) == total["volume"]


def test_a_range_and_its_csv(admin, paid):
    response = admin.get("/reports/settlement?from=2000-01-01&to=2000-01-31&format=csv")

    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:6] == ["day", "app_id", "microservice", "service", "route", "currency"] and len(rows) == 1


@pytest.mark.parametrize("query, field", [("from=yesterday", "from"), ("from=2026-12-02&to=2026-12-01", "to"),
                                          ("from=2020-01-01&to=2026-01-01", "to")])
def test_bad_ranges_are_named(admin, query, field):
    response = admin.get(f"/reports/settlement?{query}")
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_a_service_that_declares_a_fee_shows_it_per_currency(admin, base_url, downstream):
    """A provider charging 1.5 % + 100 on each success: the report shows the fees, exact, in each currency."""
    from tests.factories import Integrator
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay", fee={"percent": "1.5", "fixed": "100"})
    admin.assign(client, service)
    payer = Integrator(base_url, client, service)
    payer.pay(payer.message(f004="1000"))
    payer.pay(payer.message(f004="333.33"))
    payer.pay(payer.message(f004="10", f005="USD"))
    downstream.behaviour = lambda path, headers, body: (200, {"status": "FAILED", "code": "DECLINED"}, 0)
    payer.pay(payer.message(f004="5000"))  # no fee on a failure

    rows = {r["currency"]: r for r in mine(admin.get("/reports/settlement").json(), payer)}

    # 1.5 % + 100 on each: 115 on 1,000; on 333.33, 4.99995 rounds (4 places, per payment) to 5, so 105
    assert Decimal(rows["RWF"]["fees"]) == Decimal("220")
    assert Decimal(rows["USD"]["fees"]) == Decimal("100.15")
    refused = admin.post("/services", {"microservice": "feebad", "service": "collection", "route": "payment",
                                       "url": downstream.url, "fee": {"percent": "abc"}})
    assert refused.status_code == 400 and "fee" in str(refused.json()["error"]["details"])
