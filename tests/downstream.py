"""A real HTTP server on loopback standing in for a provider's microservice.

Tests set ``server.behaviour`` to a function ``(path, headers, body) →
(status, body, delay_seconds)`` and read ``server.received`` afterwards.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def success(path, headers, body):
    """The default behaviour: a generic_json-style SUCCESS answer."""
    return 200, {"status": "SUCCESS", "code": "OK", "message": "done", "data": {"echo": body}}, 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        server = self.server
        with server.lock:
            server.received.append({"method": self.command, "path": self.path,
                                    "headers": dict(self.headers), "body": body})
        status, answer, delay = server.behaviour(self.path, dict(self.headers), body)
        if delay:
            time.sleep(delay)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET = do_PUT = _handle


class Downstream(ThreadingHTTPServer):
    """Records every request; answers as ``behaviour`` says."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received = []
        self.connections = []
        self.behaviour = success

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def reset(self):
        with self.lock:
            self.received.clear()
        self.behaviour = success

    def get_request(self):
        connection, address = super().get_request()
        self.connections.append(connection)
        return connection, address

    def kill(self):
        """Die as a killed process does: stop listening and reset every open connection."""
        self.shutdown()
        self.server_close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ResettingServer:
    """Accepts a connection, reads the request, then resets it: the call may have been received."""

    def __init__(self):
        import socket
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self):
        import socket
        import struct
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.recv(65536)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    def close(self):
        self._socket.close()
