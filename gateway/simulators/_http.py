"""The HTTP plumbing the simulators share: JSON in, JSON out, one ``handle`` per simulator."""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

MAX_BODY = 1024 * 1024
NOT_JSON = object()  # a request body that did not parse


class Handler(BaseHTTPRequestHandler):
    """Passes each request to ``server.simulator.handle(method, path, headers, body)``.

    ``handle`` returns ``(status, answer, delay_seconds)``; a ``str`` answer is sent
    as text/html (a broken gateway), ``None`` as an empty body (MTN's 202), anything
    else as JSON. A form-encoded body (Stripe's) reaches ``handle`` as a dict of its
    fields, as the real API reads it.
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the switch logs what matters
        pass

    def _dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            body = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = NOT_JSON
        status, answer, delay = self.server.simulator.handle(self.command, self.path, self.headers, body)
        if delay:
            time.sleep(delay)
        self._send(status, answer)

    def _send(self, status, answer):
        text = isinstance(answer, str)
        data = b"" if answer is None else answer.encode() if text else json.dumps(answer).encode()
        self.send_response(status)
        if answer is not None:
            self.send_header("Content-Type", "text/html" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


def make_http_server(simulator, host, port):
    """A threaded server for ``simulator`` (call ``serve_forever``); ``server.simulator`` is its state."""
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.simulator = simulator
    return server


def main(doc, make_server, default_port, argv=None, extra=()):
    """Command line of a simulator module: ``--host``, ``--port``, ``--slow-seconds`` and its ``extra``
    ``(flag, type)`` options, passed to ``make_server`` when given."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    for flag, kind in extra:
        parser.add_argument(flag, type=kind)
    args = parser.parse_args(argv)
    options = {flag.lstrip("-").replace("-", "_"): getattr(args, flag.lstrip("-").replace("-", "_"))
               for flag, _ in extra}
    server = make_server(args.host, args.port, slow_seconds=args.slow_seconds,
                         **{k: v for k, v in options.items() if v is not None})
    print(f"{doc.split(chr(10))[0].rstrip('.')} on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
