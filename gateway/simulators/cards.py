"""Card processor simulator: authorise, capture, refund (or reverse), with deterministic outcomes.

    python -m gateway.simulators.cards --port 5052

Amounts are ``{"value": "<decimal string>", "currency": "XXX"}``. A card is
``{"number", "expiry_month", "expiry_year", "cvc"}`` (Luhn-checked) or
``{"token": "tok_…"}``. Only the last four digits are kept.

``POST /v1/authorisations`` ``{"amount", "card", "reference"}`` → 200 with
``{"id": "auth_…", "status": "AUTHORISED" | "DECLINED", …}``:

=============================  ===================================================
when                           answer
=============================  ===================================================
card (or token) ends ``0002``  ``DECLINED``, ``card_declined``
card (or token) ends ``9995``  ``DECLINED``, ``insufficient_funds``
card (or token) ends ``0069``  ``DECLINED``, ``expired_card``
card (or token) ends ``0127``  ``DECLINED``, ``incorrect_cvc``
amount ``99``                  ``DECLINED``, ``do_not_honour``
amount ``97``                  waits ``--slow-seconds``, then ``AUTHORISED``
amount ``96``                  HTTP 500
anything else                  ``AUTHORISED`` with an ``auth_code``
=============================  ===================================================

``POST /v1/authorisations/{id}/capture`` ``{"amount"?, "reference"}`` → 200
``CAPTURED`` (the whole authorisation when no amount is given); 404
``authorisation_not_found``; 409 ``not_authorised`` (declined, reversed or
already captured); 422 ``amount_exceeds_authorisation`` or ``currency_mismatch``.

``POST /v1/refunds`` ``{"authorisation_id", "amount"?, "reference"}``: on a
captured authorisation → 201 ``REFUNDED`` (partial refunds add up, 409
``amount_exceeds_refundable`` past the captured amount); on an authorisation not
yet captured → 200 ``REVERSED`` (the hold is released: a reversal is the same
route); 404 ``authorisation_not_found``; 409 ``not_refundable`` otherwise.

An ``Idempotency-Key`` header replays the first answer. Errors are
``{"error": {"code", "message"}}``; a malformed request is 400 ``invalid_request``.
``GET /v1/authorisations/{id}`` shows an authorisation with its refunds;
``GET /_stats`` counts requests.
"""

import re
import threading
import uuid
from decimal import Decimal, InvalidOperation

from gateway.simulators._http import main, make_http_server

AUTHORISATIONS = "/v1/authorisations"
REFUNDS = "/v1/refunds"
_CAPTURE = re.compile(r"^/v1/authorisations/([A-Za-z0-9_-]{1,64})/capture\Z")
_ONE = re.compile(r"^/v1/authorisations/([A-Za-z0-9_-]{1,64})\Z")
DECLINES = {"0002": "card_declined", "9995": "insufficient_funds", "0069": "expired_card", "0127": "incorrect_cvc"}


def _error(status, code, message):
    return status, {"error": {"code": code, "message": message}}, 0


def luhn_ok(number):
    """Whether ``number`` passes the Luhn check."""
    digits = [int(d) for d in reversed(number)]
    return sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0


def parse_amount(amount):
    """``(Decimal value, currency)`` of an amount object, or ``None``."""
    if not isinstance(amount, dict) or not re.fullmatch(r"[A-Z]{3}", str(amount.get("currency", ""))):
        return None
    try:
        value = Decimal(str(amount.get("value")))
    except InvalidOperation:
        return None
    return (value, amount["currency"]) if value.is_finite() and value > 0 else None


def card_last4(card):
    """The last four characters of a valid card number or token, or ``None``."""
    if not isinstance(card, dict):
        return None
    token, number = str(card.get("token") or ""), str(card.get("number") or "")
    if re.fullmatch(r"tok_[A-Za-z0-9_]{4,60}", token):
        return token[-4:]
    if re.fullmatch(r"[0-9]{12,19}", number) and luhn_ok(number):
        return number[-4:]
    return None


def _money(value, currency):
    return {"value": str(value), "currency": currency}


class CardSimulator:
    """Authorisations and refunds by id, idempotent answers by key, and a request counter."""

    def __init__(self, slow_seconds=10.0):
        self.slow_seconds = slow_seconds
        self.authorisations = {}
        self.idempotent = {}
        self.requests = 0
        self.lock = threading.Lock()

    def handle(self, method, path, headers, body):
        """``(status, answer, delay_seconds)`` for one HTTP request."""
        with self.lock:
            self.requests += 1
            if method == "GET":
                return self._get(path)
            key = headers.get("Idempotency-Key")
            if key and (path, key) in self.idempotent:
                return self.idempotent[(path, key)]
            outcome = self._post(path, body if isinstance(body, dict) else None)
            if key and outcome[0] < 500:
                self.idempotent[(path, key)] = outcome[:2] + (0,)
            return outcome

    def _get(self, path):
        if path == "/_stats":
            return 200, {"requests": self.requests}, 0
        match = _ONE.match(path)
        if match and match.group(1) in self.authorisations:
            return 200, self.authorisations[match.group(1)], 0
        return _error(404, "not_found", "No such resource.")

    def _post(self, path, body):
        if body is None:
            return _error(400, "invalid_request", "The body must be a JSON object.")
        if path == AUTHORISATIONS:
            return self.authorise(body)
        if path == REFUNDS:
            return self.refund(body)
        match = _CAPTURE.match(path)
        if match:
            return self.capture(match.group(1), body)
        return _error(404, "not_found", "No such resource.")

    def authorise(self, body):
        """Authorise (hold) an amount on a card."""
        amount, last4 = parse_amount(body.get("amount")), card_last4(body.get("card"))
        if amount is None:
            return _error(400, "invalid_request", "amount must be {value, currency} with a positive value.")
        if last4 is None:
            return _error(400, "invalid_request", "card must be a valid number or a tok_ token.")
        value, currency = amount
        if value == 96:
            return _error(500, "internal_error", "The processor failed.")
        decline = DECLINES.get(last4) or ("do_not_honour" if value == 99 else None)
        authorisation = {
            "id": f"auth_{uuid.uuid4().hex[:16]}", "status": "DECLINED" if decline else "AUTHORISED",
            "amount": _money(value, currency), "card": {"last4": last4}, "reference": body.get("reference"),
            "captured": "0", "refunded": "0", "refunds": [],
        }
        if decline:
            authorisation.update(decline_code=decline, message=decline.replace("_", " ").capitalize() + ".")
        else:
            authorisation["auth_code"] = f"{uuid.uuid4().int % 10**6:06d}"
        self.authorisations[authorisation["id"]] = authorisation
        return 200, authorisation, self.slow_seconds if value == 97 else 0

    def capture(self, authorisation_id, body):
        """Capture all or part of an authorisation, once."""
        authorisation = self.authorisations.get(authorisation_id)
        if authorisation is None:
            return _error(404, "authorisation_not_found", f"No authorisation {authorisation_id}.")
        if authorisation["status"] != "AUTHORISED":
            return _error(409, "not_authorised", f"The authorisation is {authorisation['status'].lower()}.")
        held = Decimal(authorisation["amount"]["value"]), authorisation["amount"]["currency"]
        amount = parse_amount(body["amount"]) if "amount" in body else held
        if amount is None:
            return _error(400, "invalid_request", "amount must be {value, currency} with a positive value.")
        if amount[1] != held[1]:
            return _error(422, "currency_mismatch", f"The authorisation is in {held[1]}.")
        if amount[0] > held[0]:
            return _error(422, "amount_exceeds_authorisation", f"At most {held[0]} can be captured.")
        authorisation.update(status="CAPTURED", captured=str(amount[0]))
        return 200, {"id": f"cap_{uuid.uuid4().hex[:16]}", "authorisation_id": authorisation_id,
                     "status": "CAPTURED", "amount": _money(*amount), "reference": body.get("reference")}, 0

    def refund(self, body):
        """Refund a captured authorisation (in parts), or reverse one not yet captured."""
        authorisation_id = str(body.get("authorisation_id", ""))
        authorisation = self.authorisations.get(authorisation_id)
        if authorisation is None:
            return _error(404, "authorisation_not_found", f"No authorisation {authorisation_id}.")
        currency = authorisation["amount"]["currency"]
        if authorisation["status"] == "AUTHORISED":
            authorisation["status"] = "REVERSED"
            return 200, {"id": f"rv_{uuid.uuid4().hex[:16]}", "authorisation_id": authorisation_id,
                         "status": "REVERSED", "amount": authorisation["amount"], "reference": body.get("reference")}, 0
        if authorisation["status"] != "CAPTURED":
            return _error(409, "not_refundable", f"The authorisation is {authorisation['status'].lower()}.")
        refundable = Decimal(authorisation["captured"]) - Decimal(authorisation["refunded"])
        amount = parse_amount(body["amount"]) if "amount" in body else (refundable, currency)
        if amount is None or amount[1] != currency:
            return _error(400, "invalid_request", f"amount must be {{value, currency}} in {currency}.")
        if amount[0] > refundable:
            return _error(409, "amount_exceeds_refundable", f"At most {refundable} can be refunded.")
        refund = {"id": f"rf_{uuid.uuid4().hex[:16]}", "authorisation_id": authorisation_id, "status": "REFUNDED",
                  "amount": _money(*amount), "reference": body.get("reference")}
        authorisation["refunded"] = str(Decimal(authorisation["refunded"]) + amount[0])
        authorisation["refunds"].append(refund)
        return 201, refund, 0


def make_server(host="127.0.0.1", port=5052, slow_seconds=10.0):
    """A ready-to-serve simulator (call ``serve_forever``); ``server.simulator`` is its state."""
    return make_http_server(CardSimulator(slow_seconds), host, port)


if __name__ == "__main__":
    main(__doc__, make_server, 5052)
