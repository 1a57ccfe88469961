"""Three providers and two plugins from SQL templates alone, against real simulators on loopback."""

import ast
import re
import threading
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from gateway.admin import reports
from gateway.functions.catalogue import available_plugins
from gateway.functions.templates import TEMPLATE_DIR
from gateway.simulators import cards
from tests.factories import Integrator, unique_name
from tests.providers import MOMO_FIELDS, momo_message, momo_route, mpesa_message, mpesa_route
from tests.providers import momo_server as start_momo_server
from tests.providers import mpesa_server as start_mpesa_server

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"
PAN, DECLINED_PAN, TOKEN = "4242424242424242", "4000000000000002", "tok_visa4242"


def _field(code, name, kind, required=False, **rules):
    return {"code": code, "name": name, "type": kind, "required": required, **rules}


AUTHORISE_FIELDS = [_field("f004", "amount", "amount", True), _field("f005", "currency", "currency", True),
                    _field("f006", "expiry", "string", max="5"), _field("f007", "cvc", "secret"),
                    _field("f008", "card", "secret", True), _field("f009", "description", "string", max="100")]
FOLLOW_UP_FIELDS = [_field("f004", "amount", "amount"), _field("f005", "currency", "currency"),
                    _field("f006", "reason", "string", max="100"),
                    _field("f009", "authorisation_id", "string", True, max="64")]


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def mpesa_server():
    server = start_mpesa_server()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def card_server():
    server = _serve(cards.make_server(port=0, slow_seconds=1.0))
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def momo_server():
    server = start_momo_server()
    yield server
    server.shutdown()


def url_of(server, path):
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.fixture
def onboard(admin, base_url):
    """``onboard(url, template, fields, route=…, **settings)`` → an Integrator on a fresh client and service."""
    def make(url, template, fields, microservice=None, route="payment", **settings):
        service = admin.create_service(url, microservice=microservice or unique_name("ms"), route=route,
                                       template=template, fields=fields, **settings)
        client = admin.create_client()
        admin.assign(client, service)
        return Integrator(base_url, client, service)
    return make


def pay(integrator, **fields):
    """Pay with this route's own fields only (``None`` drops a field)."""
    codes = {f["code"] for f in integrator.service["fields"]}
    message = {k: v for k, v in integrator.message(**fields).items()
               if v is not None and (k in codes or k in ("f000", "f001", "f002", "f003", "f010"))}
    return integrator.pay(message)


def outcome(response):
    body = response.json()
    return response.status_code, body.get("status"), body.get("code") or body.get("error", {}).get("details", {}).get(
        "reason")


# (M-Pesa: tests/simulators/test_mpesa.py; MTN MoMo: tests/simulators/test_mtn_momo.py.)


# --- Card processor -------------------------------------------------------------------------------

@pytest.fixture
def card_routes(onboard, card_server, admin):
    """authorise, capture and refund routes of one card service family, for one client."""
    microservice, base = unique_name("card"), url_of(card_server, cards.AUTHORISATIONS)
    routes = {"authorise": onboard(base, "card_authorise", AUTHORISE_FIELDS, microservice, "authorise")}
    client = routes["authorise"].client
    for route, template, url in (("capture", "card_capture", base + "/{authorisation_id}/capture"),
                                 ("refund", "card_refund", url_of(card_server, cards.REFUNDS))):
        service = admin.create_service(url, microservice=microservice, route=route, template=template,
                                       fields=FOLLOW_UP_FIELDS)
        admin.assign(client, service)
        routes[route] = Integrator(routes["authorise"].base_url, client, service)
    return routes


def authorise(routes, card=PAN, **fields):
    return pay(routes["authorise"], **{"f004": "100.00", "f005": "USD", "f006": "12/39", "f007": "123",
                                       "f008": card, **fields})


def test_a_card_is_authorised_captured_and_refunded_by_ordinary_routes(card_routes, card_server, db, rt):
    authorised = authorise(card_routes)
    auth_id = authorised.json()["data"]["authorisation_id"]

    captured = pay(card_routes["capture"], f009=auth_id, f004=None, f005=None)
    refunded = pay(card_routes["refund"], f009=auth_id, f004="40.00", f005="USD")
    too_much = pay(card_routes["refund"], f009=auth_id, f004="70.00", f005="USD")

    assert outcome(authorised) == (200, "SUCCESS", "AUTHORISED") and authorised.json()["data"]["card_last4"] == "4242"
    assert outcome(captured) == (200, "SUCCESS", "CAPTURED") and captured.json()["data"]["amount"] == "100.00"
    assert outcome(refunded) == (200, "SUCCESS", "REFUNDED") and refunded.json()["data"]["authorisation_id"] == auth_id
    assert outcome(too_much) == (200, "FAILED", "AMOUNT_EXCEEDS_REFUNDABLE")
    assert card_server.simulator.authorisations[auth_id]["refunded"] == "40.00"
    stored = db("SELECT t::text AS row FROM mospay.transactions t WHERE t.client_id = "
                "(SELECT id FROM mospay.clients WHERE app_id = %s)", (card_routes["authorise"].client["app_id"],))
    assert len(stored) == 4 and not any(PAN in row["row"] or '"123"' in row["row"] for row in stored)
    # The authorisation's page lists what followed it: its capture and both refund attempts.
    followers = reports.transaction(rt, authorised.json()["transaction_ref"])["related"]
    assert [(f["route"], f["status"]) for f in followers] == [("capture", "SUCCESS"), ("refund", "SUCCESS"),
                                                              ("refund", "FAILED")]


def test_a_refund_before_capture_is_a_reversal(card_routes):
    auth_id = authorise(card_routes, card=TOKEN).json()["data"]["authorisation_id"]

    reversed_ = pay(card_routes["refund"], f009=auth_id, f004=None, f005=None)
    capture = pay(card_routes["capture"], f009=auth_id, f004=None, f005=None)

    assert outcome(reversed_) == (200, "SUCCESS", "REVERSED")
    assert outcome(capture) == (200, "FAILED", "NOT_AUTHORISED")


@pytest.mark.parametrize("fields, expected", [
    ({"f008": DECLINED_PAN}, (200, "FAILED", "CARD_DECLINED")),
    ({"f004": "99"}, (200, "FAILED", "DO_NOT_HONOUR")),
    ({"f004": "96"}, (502, "UNKNOWN", "PROVIDER_ERROR")),
])
def test_card_declines_and_failures(card_routes, fields, expected):
    assert outcome(authorise(card_routes, **fields)) == expected


@pytest.mark.parametrize("route, fields, reason", [
    ("authorise", {"f008": "4242424242424241"}, "INVALID_CARD_NUMBER"),
    ("authorise", {"f006": "01/20"}, "CARD_EXPIRED"),
    ("capture", {"f009": "../refunds", "f004": None, "f005": None}, "INVALID_AUTHORISATION_ID"),
])
def test_a_bad_card_or_id_never_leaves_the_switch(card_routes, card_server, route, fields, reason):
    before = card_server.simulator.requests
    if route == "authorise":
        response = authorise(card_routes, **fields)
    else:
        response = pay(card_routes[route], **fields)

    assert outcome(response) == (422, "REJECTED", reason)
    assert card_server.simulator.requests == before


def test_capturing_an_unknown_authorisation_fails(card_routes):
    assert outcome(pay(card_routes["capture"], f009="auth_nope", f004=None, f005=None)) == (
        200, "FAILED", "AUTHORISATION_NOT_FOUND")


# --- Plugins --------------------------------------------------------------------------------------

RISK = {"plugins": ["risk_limit"], "risk": {"max_amount": "5000"}}


@pytest.fixture
def risky_routes(onboard, admin, base_url, momo_server, card_server):
    """An MTN MoMo route and a card route, both limited to 5000."""
    return {
        "momo": (momo_route(admin, base_url, momo_server, **RISK), momo_server),
        "card": (onboard(url_of(card_server, cards.AUTHORISATIONS), "card_authorise", AUTHORISE_FIELDS, **RISK),
                 card_server),
    }


@pytest.mark.parametrize("provider", ["momo", "card"])
def test_the_risk_limit_composes_with_any_provider(risky_routes, provider):
    integrator, server = risky_routes[provider]
    card = {"f005": "USD", "f006": "12/39", "f008": PAN} if provider == "card" else {}
    send = (lambda **f: integrator.pay(momo_message(integrator, **f))) if provider == "momo" else \
        (lambda **f: pay(integrator, **f, **card))

    under = send(f004="5000")
    before = server.simulator.requests
    over = send(f004="5000.01")
    forwarded = server.simulator.requests - before

    assert outcome(over)[:3] == (422, "REJECTED", "RISK_LIMIT_EXCEEDED") and forwarded == 0
    assert outcome(under)[1] == ("PENDING" if provider == "momo" else "SUCCESS")  # MTN answers 202 first


def test_fx_converts_what_mtn_momo_receives_before_the_risk_limit(admin, base_url, momo_server, db):
    db("INSERT INTO mospay_fn.fx_rates (base, quote, rate) VALUES ('XTS', 'RWF', 123.456) "
       "ON CONFLICT (base, quote) DO UPDATE SET rate = excluded.rate RETURNING rate")
    # A field typed "currency" names each payment's currency (instead of the service's setting).
    fields = [*MOMO_FIELDS, {"code": "f006", "name": "currency", "type": "currency", "required": True}]
    momo = momo_route(admin, base_url, momo_server, fields=fields, plugins=["fx_conversion", "risk_limit"],
                      fx={"settlement_currency": "RWF", "decimals": 0}, risk={"max_amount": "100000",
                                                                              "currency": "RWF"})

    paid = momo.pay(momo_message(momo, f004="10", f006="XTS"))
    over = momo.pay(momo_message(momo, f004="1000", f006="XTS"))  # 123456 RWF once converted
    no_rate = momo.pay(momo_message(momo, f004="10", f006="XAU"))

    sent = momo_server.simulator.payments[("collection", paid.json()["transaction_ref"])]["body"]
    assert (sent["amount"], sent["currency"]) == ("1235", "RWF")
    assert outcome(over) == (422, "REJECTED", "RISK_LIMIT_EXCEEDED")
    assert outcome(no_rate) == (422, "REJECTED", "FX_RATE_UNAVAILABLE")


def test_fx_converts_what_the_card_processor_receives(onboard, card_server, db):
    rate = db("SELECT rate FROM mospay_fn.fx_rates WHERE base = 'USD' AND quote = 'RWF'")[0]["rate"]
    card = onboard(url_of(card_server, cards.AUTHORISATIONS), "card_authorise", AUTHORISE_FIELDS,
                   plugins=["fx_conversion"], fx={"settlement_currency": "USD"})

    answer = pay(card, f004="15000", f005="RWF", f006="12/39", f008=PAN).json()

    held = card_server.simulator.authorisations[answer["data"]["authorisation_id"]]["amount"]
    expected = (Decimal(15000) / rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert held == {"value": str(expected), "currency": "USD"}


def test_fx_then_m_pesa_takes_whole_shillings(admin, base_url, mpesa_server, db):
    rate = db("SELECT rate FROM mospay_fn.fx_rates WHERE base = 'USD' AND quote = 'KES'")[0]["rate"]
    stk = mpesa_route(admin, base_url, mpesa_server, currency="USD", plugins=["fx_conversion"],
                      fx={"settlement_currency": "KES", "decimals": 0})

    assert outcome(stk.pay(mpesa_message(stk, f004="10")))[1] == "PENDING"
    assert mpesa_server.simulator.received[-1]["Amount"] == int((10 * rate).quantize(Decimal(1), ROUND_HALF_UP))


def test_regenerating_keeps_the_plugins(admin, risky_routes):
    momo, _ = risky_routes["momo"]
    fn = f"{momo.client['app_id']}_{momo.service['microservice']}_payment"

    assert admin.post(f"/functions/{fn}/regenerate").status_code == 200
    assert outcome(momo.pay(momo_message(momo, f004="9000"))) == (422, "REJECTED", "RISK_LIMIT_EXCEEDED")


def test_an_unknown_plugin_is_refused(admin, momo_server):
    response = admin.post("/services", {"microservice": unique_name("ms"), "service": "collection",
                                        "route": "payment", "url": url_of(momo_server, ""),
                                        "template": "mtn_momo_collection", "plugins": ["cashback"]})
    assert response.status_code == 400 and "cashback" in response.json()["error"]["details"]["plugins"]


def test_every_provider_template_applies_the_plugins():
    include = re.compile(r'\{%-? include "plugins/_apply\.sql\.j2" %\}')
    # A template may reuse another's request part (MTN's disbursement includes collection's).
    reuse = re.compile(r'\{% include "[a-z_]+/request\.sql\.j2" %\}')
    requests_ = [p for p in TEMPLATE_DIR.glob("*/request.sql.j2") if p.parent.name != "plugins"]
    assert len(requests_) >= 6 and all(include.search(p.read_text()) or reuse.search(p.read_text())
                                       for p in requests_)
    fallback = re.search(r"else (\[.*?\])", (TEMPLATE_DIR / "plugins" / "_apply.sql.j2").read_text()).group(1)
    assert sorted(ast.literal_eval(fallback)) == available_plugins()


# --- No provider in the switch's Python -----------------------------------------------------------

PROVIDER = re.compile(r"m-?pesa|mtn|momo|stk_?push|\bcard", re.IGNORECASE)
# Simulators are provider code by design; demo.py seeds the demo's own data by name.
NOT_SWITCH = ("simulator.py", "simulators", "demo.py")


def provider_branches(source):
    """Line numbers where a condition, comparison, match case or dispatch key names a provider."""
    lines = set()

    def mentions(node):
        return [n.lineno for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and PROVIDER.search(n.value)]

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            lines.update(mentions(node.test))
        elif isinstance(node, ast.Compare):
            lines.update(mentions(node))
        elif isinstance(node, ast.comprehension):
            lines.update(n for condition in node.ifs for n in mentions(condition))
        elif isinstance(node, ast.match_case):
            lines.update(mentions(node.pattern))
        elif isinstance(node, ast.Dict):
            lines.update(n for key in node.keys if key is not None for n in mentions(key))
    return sorted(lines)


def test_the_guard_finds_a_provider_branch():
    assert provider_branches('if template == "mpesa_stk_push":\n    pass\n') == [1]
    assert provider_branches('HANDLERS = {"card_refund": f}\n') == [1]
    assert provider_branches('x = "MTN" in name\n') == [1]
    assert provider_branches('"""The MTN-MoMo-like simulator."""\nlog("card payments")\n') == []


def test_no_python_branch_names_a_provider():
    found = {}
    for path in GATEWAY.rglob("*.py"):
        if not any(part in NOT_SWITCH for part in path.relative_to(GATEWAY).parts):
            if lines := provider_branches(path.read_text()):
                found[str(path.relative_to(GATEWAY))] = lines
    assert found == {}
