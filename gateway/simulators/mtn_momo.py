"""MTN MoMo Open API simulator (collection and disbursement), after https://momodeveloper.mtn.com.

    python -m gateway.simulators.mtn_momo --port 5050 [--api-user UUID --api-key KEY]

Provisioning, as the sandbox has it (any non-empty ``Ocp-Apim-Subscription-Key``
is accepted, as the developer portal issues them):

- ``POST /v1_0/apiuser`` (``X-Reference-Id``: a UUID, body ``{"providerCallbackHost"}``) → 201, empty;
  the same id again → 409 ``RESOURCE_ALREADY_EXIST``.
- ``GET /v1_0/apiuser/{id}`` → 200 ``{"providerCallbackHost", "targetEnvironment": "sandbox"}``.
- ``POST /v1_0/apiuser/{id}/apikey`` → 201 ``{"apiKey"}`` (a new key each time; the old one stops).

Tokens: ``POST /{collection|disbursement}/token/`` with Basic ``api_user:api_key`` and the subscription key
→ 200 ``{"access_token", "token_type": "access_token", "expires_in"}`` (``--token-seconds``, default 3600);
wrong credentials → 401 ``{"error": "login_failed"}``.

Payments: ``POST /collection/v1_0/requesttopay`` (body ``{"amount", "currency", "externalId", "payer":
{"partyIdType": "MSISDN", "partyId"}, "payerMessage", "payeeNote"}``) and ``POST /disbursement/v1_0/transfer``
(``payee`` instead of ``payer``), with ``Authorization: Bearer <token>``, ``X-Reference-Id`` (a UUID),
``X-Target-Environment: sandbox``, ``Ocp-Apim-Subscription-Key`` and optionally ``X-Callback-Url`` → 202
with an empty body. Refused: no or unknown subscription key → 401 (``statusCode``/``message``); missing,
expired or revoked token → 401 ``{"code": "NOT_AUTHORIZED"}``; wrong target environment → 400;
``X-Reference-Id`` not a UUID → 400 ``INVALID_REFERENCE_ID``; already used → 409 ``RESOURCE_ALREADY_EXIST``;
a body field missing or malformed → 400 ``INVALID_PARAMETER`` (nothing is recorded).

``GET /{product}/v1_0/{requesttopay|transfer}/{X-Reference-Id}`` → 200 ``{"amount", "currency",
"financialTransactionId"?, "externalId", "payer"|"payee", "payerMessage", "payeeNote", "status", "reason"?}``
(404 ``RESOURCE_NOT_FOUND`` for an unknown reference). Every payment is ``PENDING`` for ``--result-seconds``
(default 1), then final as the tables below say, and the final state is sent once with ``PUT`` to the
``X-Callback-Url`` (never to a host under ``.invalid``).

======================================  ========================================================
party (MSISDN) — the sandbox's numbers  result
======================================  ========================================================
``46733123450``                         ``FAILED``, reason ``INTERNAL_PROCESSING_ERROR``
``46733123451``                         ``FAILED``, reason ``APPROVAL_REJECTED``
``46733123452``                         ``FAILED``, reason ``EXPIRED``
``46733123453``                         ``PENDING`` for ever (the payer never answers)
ending ``000``                          ``FAILED``, reason ``PAYER_NOT_FOUND``
======================================  ========================================================

======================================  ========================================================
amount                                  result
======================================  ========================================================
``99``                                  ``FAILED``, reason ``NOT_ENOUGH_FUNDS``
``98``                                  ``PENDING`` for ever
``97``                                  waits ``--slow-seconds`` before answering 202, then ``SUCCESSFUL``
``96``                                  HTTP 500 ``INTERNAL_PROCESSING_ERROR`` (nothing recorded)
anything else                           ``SUCCESSFUL`` with a ``financialTransactionId``
======================================  ========================================================

``GET /_stats`` counts requests, token grants and payments; tests may call ``simulator.revoke_tokens()``.
"""

import base64
import json
import re
import threading
import time
import urllib.request
import uuid
from urllib.parse import urlsplit

from gateway.simulators._http import main as run_simulator
from gateway.simulators._http import make_http_server

PRODUCTS = {"collection": ("requesttopay", "payer"), "disbursement": ("transfer", "payee")}
PATH = "/collection/v1_0/requesttopay"  # the demo's resource
_PAY = re.compile(r"^/(collection|disbursement)/v1_0/(requesttopay|transfer)(?:/([^/?]+))?\Z")
_TOKEN = re.compile(r"^/(collection|disbursement)/token/?\Z")
_USER = re.compile(r"^/v1_0/apiuser(?:/([^/]+))?(/apikey)?\Z")
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]{1,4})?\Z")
SANDBOX_NUMBERS = {"46733123450": "INTERNAL_PROCESSING_ERROR", "46733123451": "APPROVAL_REJECTED",
                   "46733123452": "EXPIRED"}
FOREVER_PENDING = {"46733123453"}


def _uuid(value):
    try:
        return str(uuid.UUID(str(value))) == str(value).lower()
    except ValueError:
        return False


def _error(status, code, message):
    return status, {"code": code, "message": message}, 0


def final_state(amount, party):
    """``(status, reason)`` a payment settles to, or ``None`` when it stays PENDING for ever."""
    if party in FOREVER_PENDING or amount == "98":
        return None
    if party in SANDBOX_NUMBERS:
        return "FAILED", SANDBOX_NUMBERS[party]
    if party.endswith("000"):
        return "FAILED", "PAYER_NOT_FOUND"
    if amount == "99":
        return "FAILED", "NOT_ENOUGH_FUNDS"
    return "SUCCESSFUL", None


class MomoSimulator:
    """API users, tokens and payments by reference, with counters (for tests and benchmarks)."""

    def __init__(self, slow_seconds=10.0, result_seconds=1.0, token_seconds=3600, api_user=None, api_key=None):
        self.slow_seconds, self.result_seconds, self.token_seconds = slow_seconds, result_seconds, token_seconds
        self.users = {}  # id → {"providerCallbackHost", "api_key"}
        self.tokens = {}  # token → (user id, product, expires at)
        self.payments = {}  # (product, reference) → payment
        self.callbacks = []
        self.requests = self.token_grants = 0
        self.lock = threading.Lock()
        if api_user and api_key:
            self.users[api_user] = {"providerCallbackHost": "localhost", "api_key": api_key}

    def handle(self, method, path, headers, body):
        """``(status, answer, delay_seconds)`` for one request; ``None`` answers with an empty body."""
        with self.lock:
            self.requests += 1
            if method == "GET" and path == "/_stats":
                return 200, {"requests": self.requests, "token_grants": self.token_grants,
                             "payments": len(self.payments)}, 0
            if not headers.get("Ocp-Apim-Subscription-Key"):
                return 401, {"statusCode": 401, "message": "Access denied due to missing subscription key. Make "
                             "sure to include subscription key when making requests to an API."}, 0
            for pattern, handler in ((_USER, self._user), (_TOKEN, self._token), (_PAY, self._pay)):
                match = pattern.match(path.split("?")[0])
                if match:
                    return handler(method, match, headers, body)
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")

    def revoke_tokens(self):
        """Every token issued so far stops working (what a provider does on a key change)."""
        with self.lock:
            self.tokens.clear()

    def _user(self, method, match, headers, body):
        user_id, apikey = match.group(1), match.group(2)
        if method == "POST" and user_id is None:
            reference = headers.get("X-Reference-Id", "")
            if not _uuid(reference):
                return _error(400, "INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID.")
            if reference in self.users:
                return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
            host = body.get("providerCallbackHost") if isinstance(body, dict) else None
            self.users[reference] = {"providerCallbackHost": host or "", "api_key": None}
            return 201, None, 0
        user = self.users.get(user_id or "")
        if user is None:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        if method == "POST" and apikey:
            user["api_key"] = uuid.uuid4().hex
            return 201, {"apiKey": user["api_key"]}, 0
        if method == "GET" and not apikey:
            return 200, {"providerCallbackHost": user["providerCallbackHost"], "targetEnvironment": "sandbox"}, 0
        return _error(405, "METHOD_NOT_ALLOWED", "Method not allowed.")

    def _token(self, method, match, headers, body):
        if method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", "Method not allowed.")
        try:
            scheme, _, encoded = headers.get("Authorization", "").partition(" ")
            user_id, _, key = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            scheme = user_id = key = ""
        user = self.users.get(user_id)
        if scheme.lower() != "basic" or user is None or not key or user["api_key"] != key:
            return 401, {"error": "login_failed"}, 0
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
        self.tokens[token] = (user_id, match.group(1), time.monotonic() + self.token_seconds)
        self.token_grants += 1
        return 200, {"access_token": token, "token_type": "access_token", "expires_in": self.token_seconds}, 0

    def _authorised(self, headers, product):
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        grant = self.tokens.get(token) if scheme.lower() == "bearer" else None
        return grant is not None and grant[1] == product and time.monotonic() < grant[2]

    def _pay(self, method, match, headers, body):
        product, resource, reference = match.groups()
        if PRODUCTS[product][0] != resource:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        if not self._authorised(headers, product):
            return 401, {"code": "NOT_AUTHORIZED", "message": "Access token is missing, invalid or expired."}, 0
        if headers.get("X-Target-Environment") != "sandbox":
            return _error(400, "INVALID_TARGET_ENVIRONMENT", "X-Target-Environment must be sandbox here.")
        if method == "GET" and reference:
            payment = self.payments.get((product, reference))
            if payment is None:
                return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
            return 200, self._view(payment), 0
        if method != "POST" or reference:
            return _error(405, "METHOD_NOT_ALLOWED", "Method not allowed.")
        return self._create(product, headers, body)

    def _create(self, product, headers, body):
        reference, party_key = headers.get("X-Reference-Id", ""), PRODUCTS[product][1]
        if not _uuid(reference):
            return _error(400, "INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID.")
        if (product, reference) in self.payments:
            return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
        problem = _body_problem(body, party_key)
        if problem:
            return _error(400, "INVALID_PARAMETER", problem)
        amount, party = body["amount"], body[party_key]["partyId"]
        if amount == "96":
            return _error(500, "INTERNAL_PROCESSING_ERROR", "An internal error occurred while processing.")
        payment = {"product": product, "reference": reference, "party_key": party_key, "body": body,
                   "final": final_state(amount, party), "settles_at": time.monotonic() + self.result_seconds,
                   "financialTransactionId": str(uuid.uuid4().int)[:10], "callback_sent": False}
        self.payments[(product, reference)] = payment
        callback = headers.get("X-Callback-Url")
        if callback and payment["final"] and not (urlsplit(callback).hostname or "").endswith(".invalid"):
            timer = threading.Timer(self.result_seconds, self._notify, (callback, payment))
            timer.daemon = True
            timer.start()
        return 202, None, self.slow_seconds if amount == "97" else 0

    def _view(self, payment):
        body = payment["body"]
        view = {"amount": body["amount"], "currency": body["currency"], "externalId": body.get("externalId"),
                payment["party_key"]: body[payment["party_key"]], "payerMessage": body.get("payerMessage", ""),
                "payeeNote": body.get("payeeNote", ""), "status": "PENDING"}
        if payment["final"] and time.monotonic() >= payment["settles_at"]:
            status, reason = payment["final"]
            view["status"] = status
            if reason:
                view["reason"] = reason
            else:
                view["financialTransactionId"] = payment["financialTransactionId"]
        return view

    def _notify(self, url, payment):
        with self.lock:
            body = self._view(payment)
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})
        delivery = {"url": url, "body": body}
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                delivery["status"] = response.status
        except Exception as exc:  # a simulator records the failure, it does not crash
            delivery["error"] = str(exc)
        with self.lock:
            self.callbacks.append(delivery)


def _body_problem(body, party_key):
    """What is wrong with a request-to-pay or transfer body, or ``None``."""
    if not isinstance(body, dict):
        return "The body must be a JSON object."
    if not isinstance(body.get("amount"), str) or not _AMOUNT.match(body["amount"]):
        return "amount must be a decimal string."
    if not isinstance(body.get("currency"), str) or not re.fullmatch(r"[A-Z]{3}", body["currency"]):
        return "currency must be an ISO 4217 code."
    party = body.get(party_key)
    if not isinstance(party, dict) or party.get("partyIdType") not in ("MSISDN", "EMAIL", "PARTY_CODE") \
            or not isinstance(party.get("partyId"), str) or not party["partyId"]:
        return f"{party_key} must be {{partyIdType, partyId}}."
    return None


def make_server(host="127.0.0.1", port=5050, slow_seconds=10.0, result_seconds=1.0, token_seconds=3600,
                api_user=None, api_key=None):
    """A ready-to-serve simulator (call ``serve_forever``); ``server.simulator`` is its state."""
    return make_http_server(MomoSimulator(slow_seconds, result_seconds, token_seconds, api_user, api_key), host, port)


def main(argv=None):
    """Command line: run the simulator until interrupted (``--api-user``/``--api-key`` pre-provision a user)."""
    run_simulator(__doc__, make_server, 5050, argv, extra=(("--api-user", str), ("--api-key", str),
                                                           ("--result-seconds", float), ("--token-seconds", int)))


if __name__ == "__main__":
    main()
