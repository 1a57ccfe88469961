"""Card processor simulator in the shape of Stripe's PaymentIntents API (https://docs.stripe.com/api).

    python -m gateway.simulators.cards --port 5052 [--secret-key sk_test_…]

Authentication: ``Authorization: Bearer sk_test_…`` (or Basic with the key as username), any key starting
``sk_test_`` unless ``--secret-key`` names the one accepted; otherwise 401 ``invalid_request_error``.
Bodies are form-encoded with brackets (``metadata[reference]=…``), as Stripe reads them; answers are JSON.
An ``Idempotency-Key`` replays the first answer of a POST; the same key
with other parameters is 400 ``idempotency_error``. Errors are ``{"error": {"type", "code"?, "decline_code"?,
"message", "param"?}}``.

- ``POST /v1/payment_intents`` (``amount`` integer in the currency's smallest unit, ``currency`` lowercase,
  ``payment_method`` or ``payment_method_data[type]=card`` with ``[card][token]``, ``confirm``,
  ``capture_method`` ``automatic``/``manual``, ``metadata[…]``, ``description``). Confirmed: ``succeeded``
  (automatic) or ``requires_capture`` (manual); a decline is HTTP 402 ``card_error`` with the intent in
  ``error.payment_intent`` (status ``requires_payment_method``).
- ``POST /v1/payment_intents/{id}/confirm``, ``…/capture`` (``amount_to_capture``), ``…/cancel``;
  ``GET /v1/payment_intents/{id}``.
- ``POST /v1/refunds`` (``payment_intent``, ``amount``): ``succeeded``; partial refunds add up; an intent not
  yet captured is 400 ``payment_intent_unexpected_state`` (cancel it instead).

Outcomes, by Stripe's test payment methods (``pm_…``) or tokens (``tok_…``):

======================================================  =============================================
payment method / token                                  outcome
======================================================  =============================================
``pm_card_visa``, ``pm_card_mastercard``, ``tok_visa``  approved
``pm_card_chargeDeclined``, ``tok_chargeDeclined``      402 ``card_declined`` / ``generic_decline``
``pm_card_chargeDeclinedInsufficientFunds``             402 ``card_declined`` / ``insufficient_funds``
``pm_card_chargeDeclinedExpiredCard``                   402 ``expired_card``
``pm_card_chargeDeclinedIncorrectCvc``                  402 ``incorrect_cvc``
amount ``9700`` (97.00)                                 waits ``--slow-seconds``, then approved
amount ``9600``                                         HTTP 500 ``api_error`` (nothing recorded)
======================================================  =============================================

``GET /_stats`` counts requests and the intents created.
"""

import re
import threading
import time
import uuid

from gateway.simulators._http import main, make_http_server

INTENTS = "/v1/payment_intents"
REFUNDS = "/v1/refunds"
_ACTION = re.compile(r"^/v1/payment_intents/(pi_[A-Za-z0-9]{8,40})(?:/(confirm|capture|cancel))?\Z")
APPROVED = {"pm_card_visa", "pm_card_mastercard", "pm_card_amex", "tok_visa", "tok_mastercard"}
DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "tok_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds",
                                                "Your card has insufficient funds."),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
    "pm_card_chargeDeclinedIncorrectCvc": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
}


def _error(status, kind, message, **extra):
    return status, {"error": {"type": kind, "message": message, **extra}}, 0


def _invalid(message, param=None, code="parameter_invalid"):
    return _error(400, "invalid_request_error", message, code=code, **({"param": param} if param else {}))


def _id(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class CardSimulator:
    """PaymentIntents and refunds by id, idempotent answers by key, and counters."""

    def __init__(self, slow_seconds=10.0, secret_key=None):
        self.slow_seconds, self.secret_key = slow_seconds, secret_key
        self.intents = {}
        self.refunds = {}
        self.idempotent = {}
        self.requests = 0
        self.lock = threading.Lock()

    def handle(self, method, path, headers, body):
        """``(status, answer, delay_seconds)`` for one HTTP request."""
        with self.lock:
            self.requests += 1
            if method == "GET" and path == "/_stats":
                return 200, {"requests": self.requests, "payment_intents": len(self.intents)}, 0
            if not self._authorised(headers.get("Authorization", "")):
                return _error(401, "invalid_request_error", "Invalid API Key provided.")
            if method == "GET":
                return self._get(path)
            if method != "POST":
                return _invalid("Unrecognized request URL.", code="resource_missing")
            params = body if isinstance(body, dict) else {}
            key = headers.get("Idempotency-Key")
            if key and (path, key) in self.idempotent:
                earlier, answer = self.idempotent[(path, key)]
                if earlier != params:
                    return _error(400, "idempotency_error", "Keys for idempotent requests can only be used with "
                                  "the same parameters they were first used with.")
                return answer
            outcome = self._post(path, params)
            if key and outcome[0] != 500:
                self.idempotent[(path, key)] = (params, (outcome[0], outcome[1], 0))
            return outcome

    def _authorised(self, authorization):
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            import base64

            try:
                value = base64.b64decode(value).decode().partition(":")[0]
            except ValueError:
                return False
        elif scheme.lower() != "bearer":
            return False
        return value == self.secret_key if self.secret_key else value.startswith("sk_test_")

    def _get(self, path):
        match = _ACTION.match(path)
        if match and not match.group(2) and match.group(1) in self.intents:
            return 200, self.intents[match.group(1)], 0
        return _error(404, "invalid_request_error", "No such payment_intent.", code="resource_missing")

    def _post(self, path, params):
        if path == INTENTS:
            return self.create(params)
        if path == REFUNDS:
            return self.refund(params)
        match = _ACTION.match(path)
        if not match or not match.group(2):
            return _error(404, "invalid_request_error", "Unrecognized request URL.", code="resource_missing")
        intent = self.intents.get(match.group(1))
        if intent is None:
            return _error(404, "invalid_request_error", f"No such payment_intent: '{match.group(1)}'",
                          code="resource_missing", param="intent")
        return getattr(self, match.group(2))(intent, params)

    def create(self, params):
        """Create a PaymentIntent, confirming it at once when ``confirm`` is true."""
        amount, currency = params.get("amount", ""), params.get("currency", "")
        if not amount.isdigit() or int(amount) < 1:
            return _invalid("Invalid positive integer", "amount")
        if not re.fullmatch(r"[a-z]{3}", currency):
            return _invalid("Invalid currency: must be a lowercase ISO code.", "currency")
        if params.get("capture_method", "automatic") not in ("automatic", "manual"):
            return _invalid("Invalid capture_method.", "capture_method")
        if int(amount) == 9600:
            return _error(500, "api_error", "An unknown error occurred.")
        method = params.get("payment_method") or params.get("payment_method_data[card][token]")
        intent = {"id": _id("pi"), "object": "payment_intent", "amount": int(amount), "amount_capturable": 0,
                  "amount_received": 0, "currency": currency, "capture_method": params.get("capture_method",
                                                                                          "automatic"),
                  "status": "requires_payment_method" if not method else "requires_confirmation",
                  "payment_method": method, "description": params.get("description"), "latest_charge": None,
                  "last_payment_error": None, "created": int(time.time()), "livemode": False,
                  "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
                  "amount_refunded": 0}
        intent["client_secret"] = f"{intent['id']}_secret_{uuid.uuid4().hex[:16]}"
        self.intents[intent["id"]] = intent
        if params.get("confirm") == "true":
            status, answer, _ = self.confirm(intent, params)
            return status, answer, self.slow_seconds if int(amount) == 9700 else 0
        return 200, intent, 0

    def confirm(self, intent, params):
        """Confirm: approve or decline by the payment method, as Stripe's test cards do."""
        method = params.get("payment_method") or intent["payment_method"]
        if intent["status"] not in ("requires_confirmation", "requires_payment_method"):
            return _invalid(f"This PaymentIntent's status is {intent['status']}.",
                            code="payment_intent_unexpected_state")
        if not method or not re.fullmatch(r"(pm|tok)_[A-Za-z0-9_]{3,60}", method):
            return _invalid("A payment method is required to confirm.", "payment_method")
        intent["payment_method"] = method
        decline = DECLINES.get(method)
        if decline is None and method not in APPROVED:
            return _invalid(f"No such PaymentMethod: '{method}'", "payment_method", code="resource_missing")
        if decline:
            code, decline_code, message = decline
            intent.update(status="requires_payment_method", last_payment_error={
                "type": "card_error", "code": code, "decline_code": decline_code, "message": message})
            return _error(402, "card_error", message, code=code, decline_code=decline_code,
                          payment_intent=dict(intent))
        intent["latest_charge"] = _id("ch")
        if intent["capture_method"] == "manual":
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
        return 200, intent, 0

    def capture(self, intent, params):
        """Capture all (or ``amount_to_capture``) of a manual intent, once."""
        if intent["status"] != "requires_capture":
            return _invalid("This PaymentIntent could not be captured because it has a status of "
                            f"{intent['status']}.", code="payment_intent_unexpected_state")
        amount = params.get("amount_to_capture", str(intent["amount_capturable"]))
        if not amount.isdigit() or not 1 <= int(amount) <= intent["amount_capturable"]:
            return _invalid("amount_to_capture must be at most the amount capturable.", "amount_to_capture")
        intent.update(status="succeeded", amount_received=int(amount), amount_capturable=0)
        return 200, intent, 0

    def cancel(self, intent, params):
        """Cancel an intent not yet captured: the hold is released."""
        if intent["status"] in ("succeeded", "canceled"):
            return _invalid("You cannot cancel this PaymentIntent because it has a status of "
                            f"{intent['status']}.", code="payment_intent_unexpected_state")
        intent.update(status="canceled", amount_capturable=0,
                      cancellation_reason=params.get("cancellation_reason", "requested_by_customer"))
        return 200, intent, 0

    def refund(self, params):
        """Refund a captured intent, in parts if asked."""
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return _error(404, "invalid_request_error", "No such payment_intent.", code="resource_missing",
                          param="payment_intent")
        if intent["status"] != "succeeded":
            return _invalid(f"This PaymentIntent has a status of {intent['status']}: it cannot be refunded; cancel it "
                            "to release the hold.", code="payment_intent_unexpected_state")
        refundable = intent["amount_received"] - intent["amount_refunded"]
        amount = params.get("amount", str(refundable))
        if not amount.isdigit() or int(amount) < 1:
            return _invalid("Invalid positive integer", "amount")
        if int(amount) > refundable:
            return _invalid(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({refundable}).",
                            "amount", code="amount_too_large")
        refund = {"id": _id("re"), "object": "refund", "amount": int(amount), "currency": intent["currency"],
                  "payment_intent": intent["id"], "charge": intent["latest_charge"], "status": "succeeded",
                  "reason": params.get("reason"), "created": int(time.time()),
                  "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")}}
        intent["amount_refunded"] += int(amount)
        self.refunds[refund["id"]] = refund
        return 200, refund, 0


def make_server(host="127.0.0.1", port=5052, slow_seconds=10.0, secret_key=None):
    """A ready-to-serve simulator (call ``serve_forever``); ``server.simulator`` is its state."""
    return make_http_server(CardSimulator(slow_seconds, secret_key), host, port)


if __name__ == "__main__":
    main(__doc__, make_server, 5052, extra=(("--secret-key", str),))
