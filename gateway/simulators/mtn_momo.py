"""A simulator of an MTN-MoMo-like collection API, with deterministic outcomes.

    python -m gateway.simulators.mtn_momo --port 5050

``POST /collection/v1_0/requesttopay`` answers by the amount asked for:

======================  ======================================================
amount                  answer
======================  ======================================================
``99``                  200 ``FAILED``, reason ``NOT_ENOUGH_FUNDS``
``98``                  200 ``PENDING`` (payer has not approved yet)
``97``                  waits ``--slow-seconds`` (default 10) then ``SUCCESSFUL``
``96``                  HTTP 500
``95``                  200 with a body that is not JSON
payer ending ``000``    200 ``FAILED``, reason ``PAYER_NOT_FOUND``
anything else           200 ``SUCCESSFUL`` with a ``financialTransactionId``
======================  ======================================================

``GET /collection/v1_0/requesttopay/<X-Reference-Id>`` returns the stored
result of an earlier request; ``GET /_stats`` counts requests received.
"""

import threading
import uuid

from gateway.simulators._http import NOT_JSON, make_http_server
from gateway.simulators._http import main as run_simulator

PATH = "/collection/v1_0/requesttopay"


def outcome_for(body, slow_seconds):
    """``(http_status, answer, delay_seconds)`` for a request-to-pay body."""
    amount = str(body.get("amount", ""))
    payer = str((body.get("payer") or {}).get("partyId", ""))
    if not amount or not payer:
        return 400, {"code": "INVALID_REQUEST", "message": "amount and payer.partyId are required"}, 0
    base = {"amount": amount, "currency": body.get("currency", "RWF"), "externalId": body.get("externalId"),
            "payer": body.get("payer")}
    if amount == "96":
        return 500, {"code": "INTERNAL_PROCESSING_ERROR"}, 0
    if amount == "95":
        return 200, "<html>gateway error</html>", 0
    if amount == "99":
        return 200, {**base, "status": "FAILED", "reason": "NOT_ENOUGH_FUNDS"}, 0
    if amount == "98":
        return 200, {**base, "status": "PENDING"}, 0
    if payer.endswith("000"):
        return 200, {**base, "status": "FAILED", "reason": "PAYER_NOT_FOUND"}, 0
    answer = {**base, "status": "SUCCESSFUL", "financialTransactionId": str(uuid.uuid4().int)[:10]}
    return 200, answer, slow_seconds if amount == "97" else 0


class MomoSimulator:
    """Results by reference id, and a request counter (for tests and benchmarks)."""

    def __init__(self, slow_seconds=10.0):
        self.slow_seconds = slow_seconds
        self.results = {}
        self.requests = 0
        self._lock = threading.Lock()

    def handle(self, method, path, headers, body):
        """``(status, answer, delay)`` for one request."""
        with self._lock:
            self.requests += 1
        if method == "GET":
            return self._get(path)
        if path != PATH:
            return 404, {"code": "RESOURCE_NOT_FOUND"}, 0
        if body is NOT_JSON or not isinstance(body, dict):
            return 400, {"code": "INVALID_JSON"}, 0
        status, answer, delay = outcome_for(body, self.slow_seconds)
        reference = headers.get("X-Reference-Id")
        if reference and isinstance(answer, dict):
            self.results[reference] = answer
        return status, answer, delay

    def _get(self, path):
        if path == "/_stats":
            return 200, {"requests": self.requests}, 0
        answer = self.results.get(path[len(PATH) + 1:]) if path.startswith(PATH + "/") else None
        return (200, answer, 0) if answer else (404, {"code": "RESOURCE_NOT_FOUND"}, 0)


def make_server(host="127.0.0.1", port=5050, slow_seconds=10.0):
    """A ready-to-serve simulator (call ``serve_forever``)."""
    return make_http_server(MomoSimulator(slow_seconds), host, port)


def main(argv=None):
    """Command line: run the simulator until interrupted."""
    run_simulator(__doc__, make_server, 5050, argv)


if __name__ == "__main__":
    main()
