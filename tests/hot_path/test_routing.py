"""Routing rules with safe failover (issue 15 §2).

A client's route lists other routes of the same client as targets, by rule. Two provider
simulators stand behind two routes; the first is killed mid-run: payments keep succeeding on
the second, each payment reached at most one provider, and each records which rule chose
which provider and every failover. A provider that may have received the call (a timeout)
is never failed over from.
"""

import collections
import datetime as dt
import random
import threading
from types import SimpleNamespace

import pytest
import yaml

from gateway.admin import routes_config
from gateway.hot_path import routing
from gateway.hot_path.forwarder import upstream_key
from tests.downstream import Downstream
from tests.factories import Integrator, unique_name

STANDARD = []  # no field rules: the standard message (f004 amount, f005 the payer's number)


# --- the pure parts -------------------------------------------------------------------------------------------

def _route(**route_settings):
    return SimpleNamespace(fields=({"code": "f004", "type": "amount"}, {"code": "f005", "type": "msisdn"}),
                           context={"route": route_settings})


@pytest.mark.parametrize("when, message, expected", [
    ({}, {"f004": "10"}, True),
    ({"amount": {"max": 50000}}, {"f004": "50000"}, True),
    ({"amount": {"max": 50000}}, {"f004": "50000.01"}, False),
    ({"amount": {"min": "100", "max": 200}}, {"f004": "99.99"}, False),
    ({"amount": {"min": 1}}, {"f004": "not a number"}, False),
    ({"msisdn_prefix": ["25078", "25079"]}, {"f005": "250791234567"}, True),
    ({"msisdn_prefix": ["25073"]}, {"f005": "250781234567"}, False),
    ({"currency": ["RWF"]}, {"f004": "1"}, True),  # the service's currency setting
    ({"currency": ["KES"]}, {"f004": "1"}, False),
])
def test_a_rule_matches_only_what_it_says(when, message, expected):
    assert routing.matches(when, _route(currency="RWF"), message) is expected


@pytest.mark.parametrize("hours, at, expected", [
    ({"from": "06:00", "to": "22:00"}, "12:00", True),
    ({"from": "06:00", "to": "22:00"}, "22:00", False),
    ({"from": "22:00", "to": "06:00"}, "23:30", True),  # past midnight
    ({"from": "22:00", "to": "06:00"}, "05:59", True),
    ({"from": "22:00", "to": "06:00"}, "06:00", False),
])
def test_a_time_window_may_wrap_midnight(hours, at, expected):
    now = dt.datetime.combine(dt.date(2026, 12, 1), dt.time.fromisoformat(at), dt.UTC)
    assert routing.matches({"hours": hours}, _route(), {}, now) is expected


def test_targets_go_by_priority_then_by_weight():
    targets = [{"route": "c", "priority": 2}, {"route": "a", "weight": 3}, {"route": "b", "weight": 1}]
    firsts = collections.Counter(routing.order_targets(targets, random.Random(seed))[0]["route"]
                                 for seed in range(2000))

    assert set(firsts) == {"a", "b"}  # never the priority-2 target first
    assert 2.4 < firsts["a"] / firsts["b"] < 3.8  # 3:1 by weight
    assert routing.order_targets(targets, random.Random(1))[-1]["route"] == "c"
    assert routing.order_targets([{"route": "z", "weight": 0}], random.Random(1))[0]["route"] == "z"


# --- end to end, two providers --------------------------------------------------------------------------------

def _provider():
    server = Downstream()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def providers():
    """Two provider simulators of this test's own (never the session's shared one: one of them gets killed)."""
    servers = [_provider(), _provider()]
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def two_routes(admin, base_url, providers, app, config):
    """A client with a route to each provider; its first route routes to both, the first provider preferred."""
    client = admin.create_client()
    first = admin.create_service(providers[0].url + "/pay", fields=STANDARD, microservice=unique_name("first"))
    second = admin.create_service(providers[1].url + "/pay", fields=STANDARD, microservice=unique_name("second"))
    admin.assign(client, first)
    admin.assign(client, second)
    key = lambda s: {k: s[k] for k in ("microservice", "service", "route")}  # noqa: E731
    set_routing(app, config, client, first, {"rules": [
        {"name": "big to second", "when": {"amount": {"min": 50001}}, "targets": [key(second)]},
        {"name": "first, else second", "targets": [{**key(first), "priority": 1}, {**key(second), "priority": 2}]},
    ]})
    return Integrator(base_url, client, first), first, second


def set_routing(app, config, client, service, document_routing):
    path = routes_config.route_path(config.ROUTES_DIR, {"app_id": client["app_id"], **{
        k: service[k] for k in ("microservice", "service", "route")}})
    document = yaml.safe_load(path.read_text())
    document["routing"] = document_routing
    path.write_text(routes_config.dump(document))
    applied = app.test_cli_runner().invoke(args=["route-config", "apply"])
    assert applied.exit_code == 0, applied.output


def standard_pay(payer, **fields):
    """A payment in the standard message: f005 is the payer's number."""
    return payer.pay(payer.message(f005="250788123456", **fields))


def refs(server):
    return [call["headers"].get("X-Transaction-Ref") for call in server.received]


def routing_of(db, unique_id):
    return db("SELECT t.routing, s.microservice FROM mospay.transactions t "
              "JOIN mospay.client_services cs ON cs.id = t.client_service_id "
              "JOIN mospay.services s ON s.id = cs.service_id WHERE t.unique_id = %s", (unique_id,))[0]


def test_a_killed_provider_fails_over_and_no_payment_reaches_two(two_routes, providers, rt, db):
    payer, first, second = two_routes
    downstream, second_provider = providers
    before = [standard_pay(payer) for _ in range(5)]
    assert [r.json().get("status") for r in before] == ["SUCCESS"] * 5, before[0].text
    assert len(downstream.received) == 5

    downstream.kill()  # the first provider dies: nothing listens on its port, its open connections are reset
    downstream.shutdown = downstream.server_close = lambda: None  # already gone: the fixture's teardown is a no-op
    try:
        after = [standard_pay(payer) for _ in range(8)]
    finally:
        rt.forwarder.circuits.breaker(upstream_key(downstream.url)).record(True)

    assert [r.json()["status"] for r in after] == ["SUCCESS"] * 8, [r.text for r in after]
    assert len(second_provider.received) == 8
    assert not set(refs(downstream)) & set(refs(second_provider))  # at most one provider per payment
    record = routing_of(db, after[0].json()["unique_id"])
    assert record["microservice"] == second["microservice"]  # the payment now belongs to the route that served it
    assert record["routing"]["rule"] == "first, else second"
    assert [a["outcome"] for a in record["routing"]["attempts"]] == ["not reached: connection", "sent"]
    assert routing_of(db, before[0].json()["unique_id"])["routing"]["attempts"] == [
        {"route": f"{first['microservice']}.collection.payment", "outcome": "sent"}]


def test_a_rule_sends_big_payments_to_the_second_provider(two_routes, providers, db):
    payer, _, second = two_routes
    second_provider = providers[1]

    answer = standard_pay(payer, f004="75000")

    assert answer.json()["status"] == "SUCCESS" and len(second_provider.received) == 1
    record = routing_of(db, answer.json()["unique_id"])
    assert (record["routing"]["rule"], record["microservice"]) == ("big to second", second["microservice"])


def test_a_provider_that_may_have_the_call_is_never_failed_over_from(admin, base_url, providers, app, config, db):
    slow, spare = providers
    slow.behaviour = lambda p, h, b: (200, {"status": "SUCCESS"}, 3)  # answers after the route's timeout
    try:
        client = admin.create_client()
        first = admin.create_service(slow.url + "/pay", fields=STANDARD, timeout_ms=500)
        other = admin.create_service(spare.url + "/pay", fields=STANDARD)
        admin.assign(client, first)
        admin.assign(client, other)
        set_routing(app, config, client, first, {"rules": [{"targets": [
            {k: first[k] for k in ("microservice", "service", "route")},
            {**{k: other[k] for k in ("microservice", "service", "route")}, "priority": 2}]}]})

        answer = standard_pay(Integrator(base_url, client, first))
    finally:
        slow.behaviour = lambda p, h, b: (200, {"status": "SUCCESS"}, 0)

    assert answer.json()["status"] == "UNKNOWN"
    assert len(slow.received) == 1 and spare.received == []
    assert [a["outcome"] for a in routing_of(db, answer.json()["unique_id"])["routing"]["attempts"]] == ["sent"]


def test_a_target_that_is_not_the_clients_route_is_refused_at_apply(admin, app, config, downstream):
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay", fields=STANDARD)
    admin.assign(client, service)
    path = routes_config.route_path(config.ROUTES_DIR, {"app_id": client["app_id"], **{
        k: service[k] for k in ("microservice", "service", "route")}})
    document = yaml.safe_load(path.read_text())
    document["routing"] = {"rules": [{"targets": [{"microservice": "nobody", "service": "x", "route": "y"}]}]}
    path.write_text(routes_config.dump(document))

    applied = app.test_cli_runner().invoke(args=["route-config", "apply"])

    assert applied.exit_code != 0 and "is not a route of" in applied.output
    document.pop("routing")
    path.write_text(routes_config.dump(document))
