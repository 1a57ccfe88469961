"""A simulator of an MTN-MoMo-like collection API, with deterministic outcomes.

    python -m gateway.simulator --port 5050

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

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/collection/v1_0/requesttopay"


class SimulatorState:
    """Results by reference id, and a request counter (for tests and benchmarks)."""

    def __init__(self, slow_seconds=10.0):
        self.slow_seconds = slow_seconds
        self.results = {}
        self.requests = 0
        self.lock = threading.Lock()


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


class SimulatorHandler(BaseHTTPRequestHandler):
    """Request handler; the server's ``state`` holds what it remembers."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the switch logs what matters
        pass

    def _send(self, status, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server's naming
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 1024 * 1024))
        with state.lock:
            state.requests += 1
        if self.path != PATH:
            return self._send(404, {"code": "RESOURCE_NOT_FOUND"})
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return self._send(400, {"code": "INVALID_JSON"})
        status, answer, delay = outcome_for(body, state.slow_seconds)
        if delay:
            time.sleep(delay)
        reference = self.headers.get("X-Reference-Id")
        if reference and isinstance(answer, dict):
            state.results[reference] = answer
        return self._send(status, answer)

    def do_GET(self):  # noqa: N802
        state = self.server.state
        if self.path == "/_stats":
            return self._send(200, {"requests": state.requests})
        if self.path.startswith(PATH + "/"):
            answer = state.results.get(self.path[len(PATH) + 1:])
            return self._send(200, answer) if answer else self._send(404, {"code": "RESOURCE_NOT_FOUND"})
        return self._send(404, {"code": "RESOURCE_NOT_FOUND"})


def make_server(host="127.0.0.1", port=5050, slow_seconds=10.0):
    """A ready-to-serve simulator (call ``serve_forever``)."""
    server = ThreadingHTTPServer((host, port), SimulatorHandler)
    server.daemon_threads = True
    server.state = SimulatorState(slow_seconds)
    return server


def main(argv=None):
    """Command line: run the simulator until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.slow_seconds)
    print(f"MTN-MoMo-like simulator on http://{args.host}:{args.port}{PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
