"""The HTTP plumbing the simulators share: JSON in, JSON out, one ``handle`` per simulator."""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1024 * 1024
NOT_JSON = object()  # a request body that did not parse


class Handler(BaseHTTPRequestHandler):
    """Passes each request to ``server.simulator.handle(method, path, headers, body)``.

    ``handle`` returns ``(status, answer, delay_seconds)``; a ``str`` answer is sent
    as text/html (a broken gateway), anything else as JSON.
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the switch logs what matters
        pass

    def _dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
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
        data = answer.encode() if text else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _dispatch


def make_http_server(simulator, host, port):
    """A threaded server for ``simulator`` (call ``serve_forever``); ``server.simulator`` is its state."""
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.simulator = simulator
    return server


def main(doc, make_server, default_port, argv=None):
    """Command line of a simulator module: ``--host``, ``--port``, ``--slow-seconds``."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, slow_seconds=args.slow_seconds)
    print(f"{doc.split(chr(10))[0].rstrip('.')} on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
