"""M-Pesa-like STK push simulator: asynchronous, with deterministic outcomes.

    python -m gateway.simulators.mpesa --port 5051

``POST /mpesa/stkpush/v1/processrequest`` (like Daraja's Lipa na M-Pesa Online)
checks the request and answers at once that the prompt was sent to the payer's
phone: ``{"MerchantRequestID", "CheckoutRequestID", "ResponseCode": "0",
"ResponseDescription", "CustomerMessage"}``. The payment settles ``result_delay``
seconds later (default 0.5). Then ``POST /mpesa/stkpushquery/v1/query`` with the
``CheckoutRequestID`` returns its ``ResultCode``, and, when the request carried a
``CallBackURL``, the result is POSTed there as ``{"Body": {"stkCallback": …}}``
(except to hosts under the reserved ``.invalid`` domain: a template's placeholder).

By ``Amount`` (a whole number of shillings, as M-Pesa requires):

=========================  ==============================  ===========================================
Amount                     immediate answer                result (query and callback)
=========================  ==============================  ===========================================
``99``                     accepted                        ``ResultCode 1``: insufficient balance
``98``                     accepted                        ``ResultCode 1032``: cancelled by the payer
``97``                     accepted                        ``ResultCode 1037``: payer unreachable
``96``                     HTTP 500 ``500.003.02``         none (system busy)
``95``                     waits ``--slow-seconds``,       ``ResultCode 0``
                           then accepted
``94``                     HTTP 200, body not JSON         none
PhoneNumber ending 000     HTTP 400 ``400.002.02``         none (invalid PhoneNumber)
anything else              accepted                        ``ResultCode 0`` with ``MpesaReceiptNumber``
=========================  ==============================  ===========================================

A malformed request (a missing field, an ``Amount`` that is not a whole number,
a ``Password`` that is not base64(BusinessShortCode + passkey + Timestamp))
gets HTTP 400 ``400.002.02`` "Bad Request - Invalid <field>". ``GET /_stats``
counts requests. OAuth tokens are not checked.
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
from urllib.parse import urlsplit

from gateway.simulators._http import main, make_http_server

PROCESS_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"
_PHONE = re.compile(r"^254[17][0-9]{8}\Z")
_TIMESTAMP = re.compile(r"^[0-9]{14}\Z")
RESULTS = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    1032: "Request cancelled by user.",
    1037: "DS timeout user cannot be reached.",
}
_RESULT_BY_AMOUNT = {99: 1, 98: 1032, 97: 1037}


def _error(status, code, message):
    return status, {"requestId": uuid.uuid4().hex[:12], "errorCode": code, "errorMessage": message}, 0


def _invalid(field):
    return _error(400, "400.002.02", f"Bad Request - Invalid {field}")


def request_problem(body):
    """The first invalid field of a process request, or ``None``."""
    shortcode, stamp = str(body.get("BusinessShortCode", "")), str(body.get("Timestamp", ""))
    if not shortcode.isdigit():
        return "BusinessShortCode"
    if not _TIMESTAMP.match(stamp):
        return "Timestamp"
    try:
        password = base64.b64decode(str(body.get("Password", "")), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        password = ""
    if len(password) <= len(shortcode + stamp) or not (password.startswith(shortcode) and password.endswith(stamp)):
        return "Password"
    if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
        return "TransactionType"
    amount = body.get("Amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        return "Amount"
    for field in ("PartyA", "PhoneNumber"):
        if not _PHONE.match(str(body.get(field, ""))):
            return field
    url = body.get("CallBackURL")
    if url is not None and (not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")):
        return "CallBackURL"
    if len(str(body.get("AccountReference", ""))) > 12:
        return "AccountReference"
    return None


class MpesaSimulator:
    """STK pushes by CheckoutRequestID, callbacks sent, and counters (for tests and benchmarks)."""

    def __init__(self, result_delay=0.5, slow_seconds=10.0):
        self.result_delay = result_delay
        self.slow_seconds = slow_seconds
        self.checkouts = {}
        self.received = []
        self.callbacks = []
        self.requests = 0
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def handle(self, method, path, headers, body):
        """``(status, answer, delay_seconds)`` for one HTTP request."""
        with self.lock:
            self.requests += 1
        if method == "GET" and path == "/_stats":
            return 200, {"requests": self.requests}, 0
        if method != "POST" or path not in (PROCESS_PATH, QUERY_PATH):
            return _error(404, "404.001.03", "Invalid Access Token or resource not found")
        if not isinstance(body, dict):
            return _error(400, "400.002.01", "Bad Request - Invalid JSON")
        return self.process(body) if path == PROCESS_PATH else self.query(body)

    def process(self, body):
        """Start an STK push: answer now, settle later."""
        with self.lock:
            self.received.append(body)
        problem = request_problem(body)
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
                    "settles_at": time.monotonic() + self.result_delay,
                    "receipt": uuid.uuid4().hex[:10].upper()}
        with self.lock:
            self.checkouts[checkout_id] = checkout
        url = body.get("CallBackURL")
        if url and not (urlsplit(url).hostname or "").endswith(".invalid"):
            timer = threading.Timer(self.result_delay, self._deliver, (url, checkout))
            timer.daemon = True
            timer.start()
        answer = {"MerchantRequestID": merchant_id, "CheckoutRequestID": checkout_id, "ResponseCode": "0",
                  "ResponseDescription": "Success. Request accepted for processing",
                  "CustomerMessage": "Success. Request accepted for processing"}
        return 200, answer, self.slow_seconds if amount == 95 else 0

    def query(self, body):
        """The result of an earlier STK push, once it has settled."""
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


def make_server(host="127.0.0.1", port=5051, slow_seconds=10.0, result_delay=0.5):
    """A ready-to-serve simulator (call ``serve_forever``); ``server.simulator`` is its state."""
    return make_http_server(MpesaSimulator(result_delay, slow_seconds), host, port)


if __name__ == "__main__":
    main(__doc__, make_server, 5051)
