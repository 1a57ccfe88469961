"""Sends the request function's call downstream over pooled HTTP connections (urllib3).

Every call ends in a ``ForwardResult``: the provider's answer, or a
``FailureKind`` that says whether anything may have reached the provider
(``NOTHING_SENT`` and ``CIRCUIT_OPEN``: safe to call FAILED; ``TIMEOUT``,
``PROTOCOL``, ``TOO_LARGE``: the payment's outcome is UNKNOWN).
"""

import enum
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    EmptyPoolError,
    LocationParseError,
    NewConnectionError,
    ReadTimeoutError,
)

from gateway.hot_path.circuit import CircuitBoard
from gateway.hot_path.http_headers import HTTPConnection, HTTPSConnection
from gateway.logs import request_id_var
from gateway.tracing import traceparent_var

log = logging.getLogger(__name__)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_CONNECT_SECONDS = 3.0
RETRY_BACKOFF_SECONDS = 0.05


class FailureKind(enum.Enum):
    """Why a call has no answer; the value is what the response function sees as ``{"error": …}``."""

    NOTHING_SENT = "connection"  # the connection failed: nothing reached the provider
    CIRCUIT_OPEN = "circuit_open"  # the breaker refused: nothing was attempted
    TIMEOUT = "timeout"  # the provider may have the call
    PROTOCOL = "protocol"  # broken mid-flight: the provider may have the call
    TOO_LARGE = "too_large"  # the answer exceeded the size limit

    @property
    def sent(self):
        """True when the call may have reached the provider."""
        return self not in (FailureKind.NOTHING_SENT, FailureKind.CIRCUIT_OPEN)


@dataclass(frozen=True)
class ForwardResult:
    """The provider's answer (``status_code``, ``headers``, ``body``, ``elapsed_ms``) or a ``failure``."""

    status_code: int | None = None
    headers: dict | None = None
    body: object = None
    elapsed_ms: float | None = None
    failure: FailureKind | None = None

    @property
    def sent(self):
        """True when the call may have reached the provider."""
        return self.failure is None or self.failure.sent

    @property
    def ok(self):
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_json(self):
        """What a response function receives: the answer, or ``{"error": kind}``."""
        if self.failure is not None:
            return {"error": self.failure.value}
        return {"status_code": self.status_code, "headers": self.headers, "body": self.body,
                "elapsed_ms": self.elapsed_ms}


def upstream_key(url):
    """``(scheme, host, port)``: what a session and a circuit breaker belong to."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def is_failure(result):
    """A transport failure or a 5xx counts against the upstream's circuit."""
    return result.failure is not None or result.status_code >= 500


class Forwarder:
    """One urllib3 connection pool per upstream (scheme, host, port), sized to the worker threads."""

    def __init__(self, pool_size=16, max_body_bytes=1024 * 1024, circuits=None):
        self._pool_size = pool_size
        self._max_body = max_body_bytes
        self._pools = {}
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
        reached = None  # the last attempt that may have reached the provider: the call as a whole did then
        for attempt in range(1, attempts + 1):
            if not breaker.allow():
                return reached or ForwardResult(failure=FailureKind.CIRCUIT_OPEN)
            response = self.send(spec)
            breaker.record(not is_failure(response))
            if response.sent:
                reached = response
            if attempt == attempts or not _retryable(response, retry_on, may_repeat):
                return response if response.sent else reached or response
            time.sleep(RETRY_BACKOFF_SECONDS * attempt)
        return response

    def _pool(self, url):
        key = upstream_key(url)
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.get(key)
                if pool is None:
                    # No cookies, proxies or redirects: a switch forwards exactly what the function said.
                    pool = urllib3.connection_from_url(url, maxsize=self._pool_size, block=False, retries=False)
                    pool.ConnectionCls = HTTPSConnection if key[0] == "https" else HTTPConnection
                    self._pools[key] = pool
        return pool

    def send(self, call):
        """Perform ``call`` (a validated call spec, no breaker, no retry); returns a ``ForwardResult``."""
        timeout = call["timeout_ms"] / 1000
        body = call.get("body")
        headers = {"Content-Type": "application/json", "Accept": "application/json", **call.get("headers", {})}
        data = None if body is None else body if isinstance(body, bytes) else \
            form_encode(body).encode() if _is_form(headers) else orjson.dumps(body)
        request_id = request_id_var.get()
        if request_id:
            headers.setdefault("X-Request-ID", request_id)
        traceparent = traceparent_var.get()
        if traceparent:  # the payment's trace continues at the provider (W3C Trace Context)
            headers.setdefault("traceparent", traceparent)
        started = time.perf_counter()
        try:
            parts = urlsplit(call["url"])
            response = self._pool(call["url"]).urlopen(
                call["method"], parts.path + (f"?{parts.query}" if parts.query else "") or "/", body=data,
                headers=headers, timeout=urllib3.Timeout(connect=min(timeout, MAX_CONNECT_SECONDS), read=timeout),
                retries=False, redirect=False, preload_content=False, assert_same_host=False,
            )
            try:
                raw = self._read_capped(response, started + timeout)
            finally:
                response.release_conn()
        except (NewConnectionError, ConnectTimeoutError, LocationParseError, ValueError, ClosedPoolError,
                EmptyPoolError):
            return ForwardResult(failure=FailureKind.NOTHING_SENT)  # no connection was ever made: nothing sent
        except (ReadTimeoutError, _Overdue):
            return ForwardResult(failure=FailureKind.TIMEOUT)
        except _TooLarge:
            return ForwardResult(failure=FailureKind.TOO_LARGE)
        except Exception as exc:  # noqa: BLE001 - any other failure may have happened after sending
            log.warning("downstream call to %s failed mid-flight: %s", urlsplit(call["url"]).hostname,
                        type(exc).__name__)
            return ForwardResult(failure=FailureKind.PROTOCOL)
        return ForwardResult(response.status, {k.lower(): v for k, v in response.headers.items()}, _decode(raw),
                             round((time.perf_counter() - started) * 1000, 3))

    def _read_capped(self, response, deadline):
        chunks, size = [], 0
        while True:
            chunk = response.read(8 * 1024)  # small reads: the deadline is checked often
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_body:
                response.drain_conn()
                raise _TooLarge()
            if time.perf_counter() > deadline:
                raise _Overdue()
            chunks.append(chunk)

    def close(self):
        """Close every pooled connection; the next call opens a new pool."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


FORM = "application/x-www-form-urlencoded"


def _is_form(headers):
    return any(k.lower() == "content-type" and v.split(";")[0].strip().lower() == FORM for k, v in headers.items())


def form_encode(body):
    """A call body sent form-encoded (a call spec's ``Content-Type: application/x-www-form-urlencoded``): nested
    objects and arrays as ``a[b][0]=…``, the convention of APIs that take forms (Stripe's); ``null`` is left out."""
    pairs = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        elif value is not None:
            pairs.append((prefix, "true" if value is True else "false" if value is False else str(value)))

    walk("", body if isinstance(body, dict) else {"body": body})
    return urlencode(pairs)


def _retryable(result, retry_on, may_repeat):
    if result.failure is FailureKind.NOTHING_SENT:
        return "connection" in retry_on
    if result.failure in (FailureKind.TIMEOUT, FailureKind.PROTOCOL):
        return "timeout" in retry_on and may_repeat
    return "5xx" in retry_on and may_repeat and (result.status_code or 0) >= 500


class _TooLarge(Exception):
    pass


class _Overdue(Exception):
    pass


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
