"""Sends the request function's call downstream over pooled HTTP sessions.

The outcome is always a dict the response function understands: either
``{"status_code", "headers", "body", "elapsed_ms"}`` or ``{"error": kind}``
where kind is ``connection`` (nothing was sent: safe to call FAILED),
``timeout`` or ``protocol`` (the call may have reached the provider:
the payment's outcome is UNKNOWN), or ``too_large``.
"""

import logging
import threading
import time
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from gateway.circuit import CircuitBoard
from gateway.logs import request_id_var

log = logging.getLogger(__name__)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NOTHING_SENT = "connection"
MAX_CONNECT_SECONDS = 3.0


CIRCUIT_OPEN = "circuit_open"
RETRY_BACKOFF_SECONDS = 0.05


def upstream_key(url):
    """``(scheme, host, port)``: what a session and a circuit breaker belong to."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def is_failure(response):
    """A transport failure or a 5xx counts against the upstream's circuit."""
    return "error" in response or response["status_code"] >= 500


class Forwarder:
    """One ``requests.Session`` per upstream (scheme, host, port), sized to the worker threads."""

    def __init__(self, pool_size=16, max_body_bytes=1024 * 1024, circuits=None):
        self._pool_size = pool_size
        self._max_body = max_body_bytes
        self._sessions = {}
        self._lock = threading.Lock()
        self.circuits = circuits or CircuitBoard()

    def call(self, spec, retry=None):
        """Send ``spec`` through its upstream's circuit breaker, retrying only where the route allows.

        A failed connection is always safe to retry (nothing was sent); a
        timeout, a broken answer or a 5xx only when the method is not POST
        or the route says ``allow_post``.
        """
        retry = retry or {}
        breaker = self.circuits.breaker(upstream_key(spec["url"]))
        attempts = max(1, min(int(retry.get("max_attempts", 1)), 5))
        retry_on = set(retry.get("on", ()))
        may_repeat = spec["method"] != "POST" or retry.get("allow_post") is True
        for attempt in range(1, attempts + 1):
            if not breaker.allow():
                return {"error": CIRCUIT_OPEN}
            response = self.send(spec)
            breaker.record(not is_failure(response))
            if attempt == attempts or not _retryable(response, retry_on, may_repeat):
                return response
            time.sleep(RETRY_BACKOFF_SECONDS * attempt)
        return response

    def _session(self, url):
        key = upstream_key(url)
        parts = urlsplit(url)
        session = self._sessions.get(key)
        if session is None:
            with self._lock:
                session = self._sessions.get(key)
                if session is None:
                    session = requests.Session()
                    session.trust_env = False  # no proxy or netrc surprises on a payment path
                    # One session serves every client of this upstream: never carry cookies between them.
                    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
                    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self._pool_size, max_retries=0)
                    session.mount(f"{parts.scheme}://", adapter)
                    self._sessions[key] = session
        return session

    def send(self, call):
        """Perform ``call`` (a validated call spec) and describe what came back."""
        timeout = call["timeout_ms"] / 1000
        body = call.get("body")
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json", "Accept": "application/json", **call.get("headers", {})}
        request_id = request_id_var.get()
        if request_id:
            headers.setdefault("X-Request-ID", request_id)
        started = time.perf_counter()
        try:
            response = self._session(call["url"]).request(
                call["method"], call["url"], data=data, headers=headers,
                timeout=(min(timeout, MAX_CONNECT_SECONDS), timeout), stream=True, allow_redirects=False,
            )
            try:
                raw = self._read_capped(response, started + timeout)
            finally:
                response.close()
        except (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL,
                requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema):
            return {"error": NOTHING_SENT}
        except requests.exceptions.ConnectionError as exc:
            return {"error": _connection_error_kind(exc)}
        except (requests.exceptions.Timeout, _Overdue):
            return {"error": "timeout"}
        except _TooLarge:
            return {"error": "too_large"}
        except Exception as exc:  # noqa: BLE001 - any other failure may have happened after sending
            log.warning("downstream call to %s failed mid-flight: %s", urlsplit(call["url"]).hostname,
                        type(exc).__name__)
            return {"error": "protocol"}
        return {
            "status_code": response.status_code,
            "headers": {k.lower(): v for k, v in response.headers.items()},
            "body": _decode(raw),
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
        }

    def _read_capped(self, response, deadline):
        chunks, size = [], 0
        for chunk in response.iter_content(8 * 1024):  # small reads: the deadline is checked often
            size += len(chunk)
            if size > self._max_body:
                raise _TooLarge()
            if time.perf_counter() > deadline:
                raise _Overdue()
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self):
        """Close every pooled connection."""
        for session in self._sessions.values():
            session.close()


def _retryable(response, retry_on, may_repeat):
    if response.get("error") == NOTHING_SENT:
        return "connection" in retry_on
    if response.get("error") in ("timeout", "protocol"):
        return "timeout" in retry_on and may_repeat
    return "5xx" in retry_on and may_repeat and response.get("status_code", 0) >= 500


class _TooLarge(Exception):
    pass


class _Overdue(Exception):
    pass


def _connection_error_kind(exc):
    # requests folds "refused" and "reset after sending" into ConnectionError;
    # only a failure to connect proves nothing reached the provider.
    text = repr(exc)
    if "NewConnectionError" in text or "NameResolutionError" in text or "Connection refused" in text:
        return NOTHING_SENT
    if "ReadTimeoutError" in text:
        return "timeout"
    return "protocol"


def _decode(raw):
    if not raw:
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:4096].decode("utf-8", "replace").replace("\x00", "")
    # PostgreSQL's jsonb cannot hold NUL characters: drop them rather than lose the record.
    return _without_nul(body) if b"\\u0000" in raw else body


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
