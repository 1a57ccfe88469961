"""Safaricom Daraja M-Pesa Express (STK push) simulator, after https://developer.safaricom.co.ke.

    python -m gateway.simulators.mpesa --port 5051 [--consumer-key K --consumer-secret S]

``GET /oauth/v1/generate?grant_type=client_credentials`` with Basic ``consumer_key:consumer_secret`` → 200
``{"access_token", "expires_in": "3599"}`` (``--token-seconds``); wrong credentials → 400 ``400.008.01``
"Invalid Authentication passed". The sandbox app (``--consumer-key``/``--consumer-secret``) and the sandbox
shortcode ``174379`` with its published passkey are known; tests add apps and shortcodes of their own.

``POST /mpesa/stkpush/v1/processrequest`` (``Authorization: Bearer <token>``) checks the request (every field,
``Password`` = base64(BusinessShortCode + passkey + Timestamp) with the shortcode's passkey, ``Amount`` a whole
number, phones ``2547…``/``2541…``) and answers at once that the prompt was sent: ``{"MerchantRequestID",
"CheckoutRequestID", "ResponseCode": "0", "ResponseDescription", "CustomerMessage"}``. A missing, unknown or
expired token is 401 ``404.001.03`` "Invalid Access Token"; a bad field 400 ``400.002.02`` "Bad Request -
Invalid <field>"; errors are ``{"requestId", "errorCode", "errorMessage"}``. The payment settles
``--result-seconds`` later (default 0.5): ``POST /mpesa/stkpushquery/v1/query`` (``BusinessShortCode``,
``Password``, ``Timestamp``, ``CheckoutRequestID``; 500 ``500.001.1001`` "The transaction is being processed"
until then) returns its ``ResultCode``, and the result is POSTed to ``CallBackURL`` as ``{"Body":
{"stkCallback": …}}`` (never to a host under ``.invalid``, a template's placeholder).

=========================  ==============================  ===========================================
Amount                     immediate answer                result (query and callback)
=========================  ==============================  ===========================================
``99``                     accepted                        ``ResultCode 1``: insufficient balance
``98``                     accepted                        ``ResultCode 1032``: cancelled by the payer
``97``                     accepted                        ``ResultCode 1037``: payer unreachable
``93``                     accepted                        ``ResultCode 2001``: wrong PIN
``96``                     HTTP 500 ``500.003.02``         none (system busy)
``95``                     waits ``--slow-seconds``,       ``ResultCode 0``
                           then accepted
``94``                     HTTP 200, body not JSON         none
PhoneNumber ending 000     HTTP 400 ``400.002.02``         none (invalid PhoneNumber)
anything else              accepted                        ``ResultCode 0`` with ``MpesaReceiptNumber``
=========================  ==============================  ===========================================

``GET /_stats`` counts requests and token grants; tests may call ``simulator.revoke_tokens()``.
"""

import base64
import binascii
import datetime
import itertools
import json
import re
import threading
import time
import urllib.request
import uuid
from urllib.parse import parse_qs, urlsplit

from gateway.simulators._http import main, make_http_server

OAUTH_PATH = "/oauth/v1/generate"
PROCESS_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"  # published by Safaricom
_PHONE = re.compile(r"^254[17][0-9]{8}\Z")
_TIMESTAMP = re.compile(r"^[0-9]{14}\Z")
RESULTS = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    1032: "Request cancelled by user.",
    1037: "DS timeout user cannot be reached.",
    2001: "The initiator information is invalid.",
}
_RESULT_BY_AMOUNT = {99: 1, 98: 1032, 97: 1037, 93: 2001}


def _error(status, code, message):
    return status, {"requestId": f"{uuid.uuid4().int % 10**5}-{uuid.uuid4().int % 10**8}-1", "errorCode": code,
                    "errorMessage": message}, 0


def _invalid(field):
    return _error(400, "400.002.02", f"Bad Request - Invalid {field}")


def password(shortcode, passkey, timestamp):
    """Daraja's ``Password``: base64 of shortcode + passkey + timestamp."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def _password_problem(body, passkeys):
    shortcode, stamp = str(body.get("BusinessShortCode", "")), str(body.get("Timestamp", ""))
    if not shortcode.isdigit() or shortcode not in passkeys:
        return "BusinessShortCode"
    if not _TIMESTAMP.match(stamp):
        return "Timestamp"
    try:
        base64.b64decode(str(body.get("Password", "")), validate=True)
    except (binascii.Error, ValueError):
        return "Password"
    if body.get("Password") != password(shortcode, passkeys[shortcode], stamp):
        return "Password"
    return None


def request_problem(body, passkeys):
    """The first invalid field of a process request, or ``None``."""
    problem = _password_problem(body, passkeys)
    if problem:
        return problem
    if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
        return "TransactionType"
    amount = body.get("Amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        return "Amount"
    for field in ("PartyA", "PhoneNumber"):
        if not _PHONE.match(str(body.get(field, ""))):
            return field
    url = body.get("CallBackURL")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        return "CallBackURL"
    if not 1 <= len(str(body.get("AccountReference", ""))) <= 12:
        return "AccountReference"
    if not 1 <= len(str(body.get("TransactionDesc", ""))) <= 13:
        return "TransactionDesc"
    return None


class MpesaSimulator:
    """Apps, tokens, STK pushes by CheckoutRequestID, callbacks sent, and counters."""

    def __init__(self, result_delay=0.5, slow_seconds=10.0, token_seconds=3599, consumer_key=None,
                 consumer_secret=None):
        self.result_delay, self.slow_seconds, self.token_seconds = result_delay, slow_seconds, token_seconds
        self.apps = {consumer_key: consumer_secret} if consumer_key and consumer_secret else {}
        self.passkeys = {SANDBOX_SHORTCODE: SANDBOX_PASSKEY}
        self.tokens = {}
        self.checkouts = {}
        self.received = []
        self.callbacks = []
        self.requests = self.token_grants = 0
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def add_app(self, consumer_key, consumer_secret, shortcode=SANDBOX_SHORTCODE, passkey=SANDBOX_PASSKEY):
        """Register a Daraja app and its shortcode's passkey, as the developer portal does."""
        with self.lock:
            self.apps[consumer_key] = consumer_secret
            self.passkeys[shortcode] = passkey

    def revoke_tokens(self):
        """Every token issued so far stops working."""
        with self.lock:
            self.tokens.clear()

    def handle(self, method, path, headers, body):
        """``(status, answer, delay_seconds)`` for one HTTP request."""
        with self.lock:
            self.requests += 1
        route, _, query = path.partition("?")
        if method == "GET" and route == "/_stats":
            return 200, {"requests": self.requests, "token_grants": self.token_grants}, 0
        if method == "GET" and route == OAUTH_PATH:
            return self.oauth(headers, parse_qs(query))
        if method != "POST" or route not in (PROCESS_PATH, QUERY_PATH):
            return _error(404, "404.001.01", "Resource not found")
        if not self._authorised(headers):
            return _error(401, "404.001.03", "Invalid Access Token")
        if not isinstance(body, dict):
            return _error(400, "400.002.01", "Bad Request - Invalid JSON")
        return self.process(body) if route == PROCESS_PATH else self.query(body)

    def oauth(self, headers, query):
        """Client credentials grant: a token for a registered app."""
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            key = secret = ""
        if query.get("grant_type") != ["client_credentials"]:
            return _error(400, "400.008.02", "Invalid grant type passed")
        with self.lock:
            if scheme.lower() != "basic" or not key or self.apps.get(key) != secret:
                return _error(400, "400.008.01", "Invalid Authentication passed")
            token = uuid.uuid4().hex[:28]
            self.tokens[token] = time.monotonic() + self.token_seconds
            self.token_grants += 1
        return 200, {"access_token": token, "expires_in": str(self.token_seconds)}, 0

    def _authorised(self, headers):
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        with self.lock:
            expires = self.tokens.get(token) if scheme.lower() == "bearer" else None
        return expires is not None and time.monotonic() < expires

    def process(self, body):
        """Start an STK push: answer now, settle later."""
        with self.lock:
            self.received.append(body)
        problem = request_problem(body, self.passkeys)
        if problem:
            return _invalid(problem)
        amount, phone = body["Amount"], body["PhoneNumber"]
        if amount == 96:
            return _error(500, "500.003.02", "System is busy. Please try again in few minutes.")
        if amount == 94:
            return 200, "<html>upstream gateway error</html>", 0
        if phone.endswith("000"):
            return _invalid("PhoneNumber")
        number = next(self._ids)
        checkout_id = f"ws_CO_{datetime.datetime.now():%d%m%Y%H%M%S}{number:06d}"
        merchant_id = f"{29000 + number % 1000}-{uuid.uuid4().int % 10**8}-1"
        checkout = {"merchant_request_id": merchant_id, "checkout_request_id": checkout_id, "amount": amount,
                    "phone": phone, "result_code": _RESULT_BY_AMOUNT.get(amount, 0),
                    "settles_at": time.monotonic() + self.result_delay, "receipt": uuid.uuid4().hex[:10].upper()}
        with self.lock:
            self.checkouts[checkout_id] = checkout
        url = body["CallBackURL"]
        if not (urlsplit(url).hostname or "").endswith(".invalid"):
            timer = threading.Timer(self.result_delay, self._deliver, (url, checkout))
            timer.daemon = True
            timer.start()
        answer = {"MerchantRequestID": merchant_id, "CheckoutRequestID": checkout_id, "ResponseCode": "0",
                  "ResponseDescription": "Success. Request accepted for processing",
                  "CustomerMessage": "Success. Request accepted for processing"}
        return 200, answer, self.slow_seconds if amount == 95 else 0

    def query(self, body):
        """The result of an earlier STK push, once it has settled (the query is signed like the push)."""
        problem = _password_problem(body, self.passkeys)
        if problem:
            return _invalid(problem)
        checkout = self.checkouts.get(str(body.get("CheckoutRequestID", "")))
        if checkout is None:
            return _invalid("CheckoutRequestID")
        if time.monotonic() < checkout["settles_at"]:
            return _error(500, "500.001.1001", "The transaction is being processed")
        code = checkout["result_code"]
        return 200, {"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
                     "MerchantRequestID": checkout["merchant_request_id"],
                     "CheckoutRequestID": checkout["checkout_request_id"],
                     "ResultCode": str(code), "ResultDesc": RESULTS[code]}, 0

    def _deliver(self, url, checkout):
        body = callback_body(checkout)
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        delivery = {"url": url, "body": body}
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                delivery["status"] = response.status
        except Exception as exc:  # a simulator records the failure, it does not crash
            delivery["error"] = str(exc)
        with self.lock:
            self.callbacks.append(delivery)


def callback_body(checkout):
    """Daraja's result callback for a settled STK push."""
    code = checkout["result_code"]
    result = {"MerchantRequestID": checkout["merchant_request_id"],
              "CheckoutRequestID": checkout["checkout_request_id"], "ResultCode": code, "ResultDesc": RESULTS[code]}
    if code == 0:
        result["CallbackMetadata"] = {"Item": [
            {"Name": "Amount", "Value": checkout["amount"]},
            {"Name": "MpesaReceiptNumber", "Value": checkout["receipt"]},
            {"Name": "TransactionDate", "Value": int(f"{datetime.datetime.now():%Y%m%d%H%M%S}")},
            {"Name": "PhoneNumber", "Value": int(checkout["phone"])},
        ]}
    return {"Body": {"stkCallback": result}}


def make_server(host="127.0.0.1", port=5051, slow_seconds=10.0, result_delay=0.5, token_seconds=3599,
                consumer_key=None, consumer_secret=None):
    """A ready-to-serve simulator (call ``serve_forever``); ``server.simulator`` is its state."""
    simulator = MpesaSimulator(result_delay, slow_seconds, token_seconds, consumer_key, consumer_secret)
    return make_http_server(simulator, host, port)


if __name__ == "__main__":
    main(__doc__, make_server, 5051, extra=(("--consumer-key", str), ("--consumer-secret", str),
                                            ("--result-delay", float), ("--token-seconds", int)))
