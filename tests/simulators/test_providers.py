"""Three providers and two plugins from SQL templates alone, against real simulators on loopback."""

import ast
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from gateway.functions.catalogue import available_plugins
from gateway.functions.templates import TEMPLATE_DIR
from tests.factories import Integrator, unique_name
from tests.providers import MOMO_FIELDS, card_message, card_routes, momo_message, momo_route, mpesa_message, mpesa_route
from tests.providers import card_server as start_card_server
from tests.providers import momo_server as start_momo_server
from tests.providers import mpesa_server as start_mpesa_server

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"


@pytest.fixture(scope="module")
def mpesa_server():
    server = start_mpesa_server()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def card_server():
    server = start_card_server()
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


# (Cards: tests/simulators/test_cards.py.)


# --- Plugins --------------------------------------------------------------------------------------

RISK = {"plugins": ["risk_limit"], "risk": {"max_amount": "5000"}}


@pytest.fixture
def risky_routes(onboard, admin, base_url, momo_server, card_server):
    """An MTN MoMo route and a card route, both limited to 5000."""
    return {
        "momo": (momo_route(admin, base_url, momo_server, **RISK), momo_server),
        "card": (card_routes(admin, base_url, card_server, **RISK)["authorise"], card_server),
    }


@pytest.mark.parametrize("provider", ["momo", "card"])
def test_the_risk_limit_composes_with_any_provider(risky_routes, provider):
    integrator, server = risky_routes[provider]
    send = (lambda **f: integrator.pay(momo_message(integrator, **f))) if provider == "momo" else \
        (lambda **f: integrator.pay(card_message(integrator, f008="pm_card_visa", **f)))

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
