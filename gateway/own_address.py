"""Where this switch instance itself listens, for calls it makes to its own API (test payments)."""

from flask import request


def own_address():
    """The address this instance listens on: the socket the request came in on, never the request's ``Host``
    header, which the browser controls (no one can point a test payment, and the client JWT it carries, at
    another host)."""
    host, port = request.environ.get("SERVER_NAME", "127.0.0.1"), request.environ.get("SERVER_PORT", "80")
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"
