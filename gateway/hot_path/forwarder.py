"""Sends the request function's call downstream over pooled keep-alive connections (http.client).

Every call ends in a ``ForwardResult``: the provider's answer, or a
``FailureKind`` that says whether anything may have reached the provider
(``NOTHING_SENT`` and ``CIRCUIT_OPEN``: safe to call FAILED; ``TIMEOUT``,
``PROTOCOL``, ``TOO_LARGE``: the payment's outcome is UNKNOWN).
"""

import enum
import functools
import http.client
import logging
import select
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import orjson

from gateway.hot_path.circuit import CircuitBoard
from gateway.hot_path.http_headers import HTTPConnection, HTTPSConnection
from gateway.logs import request_id_var
from gateway.tracing import traceparent_var

log = logging.getLogger(__name__)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")  # sent with Content-Length: 0 when they carry nothing, as http.client does
USER_AGENT = "MosPay-switch"
DEFAULT_HEADERS = (("Content-Type", "application/json"), ("Accept", "application/json"))
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
    return _key(urlsplit(url))


def _key(parts):
    return parts.scheme, parts.hostname, parts.port


def is_failure(result):
    """A transport failure or a 5xx counts against the upstream's circuit."""
    return result.failure is not None or result.status_code >= 500


class Forwarder:
    """Keep-alive connections per upstream (scheme, host, port), at most ``pool_size`` idle ones each."""

    def __init__(self, pool_size=16, max_body_bytes=1024 * 1024, circuits=None):
        self._pool_size = pool_size
        self._max_body = max_body_bytes
        self._upstreams = {}
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

    def _upstream(self, parts):
        key = _key(parts)
        upstream = self._upstreams.get(key)
        if upstream is None:
            with self._lock:
                upstream = self._upstreams.get(key)
                if upstream is None:
                    upstream = self._upstreams[key] = _Upstream(*key, self._pool_size)
        return upstream

    def send(self, call):
        """Perform ``call`` (a validated call spec, no breaker, no retry); returns a ``ForwardResult``.

        Two phases, so that a failure says whether anything left: until the request's first byte is written
        (the URL, the headers, the connection, TLS) a failure is ``NOTHING_SENT``; from then on it is a
        ``TIMEOUT`` or ``PROTOCOL`` failure (the provider may have the call).
        """
        started = time.perf_counter()
        try:
            timeout = call["timeout_ms"] / 1000
            parts = urlsplit(call["url"])
            upstream = self._upstream(parts)
            conn = upstream.take(min(timeout, MAX_CONNECT_SECONDS))
            try:
                body, chunked = _put_request(conn, call, parts)
                conn.sock.settimeout(timeout)
                conn.deadline = started + timeout
            except BaseException:
                conn.close()
                raise
        # Refused, unresolvable, TLS, a bad URL, header, body or timeout (a token step's credentials are not
        # checked like a function's call spec): whatever it is, no byte of the request was written yet.
        except Exception:  # noqa: BLE001
            return ForwardResult(failure=FailureKind.NOTHING_SENT)
        reusable = False
        try:
            conn.endheaders(body, encode_chunked=chunked)
            response = conn.getresponse()
            if response.status == 101:  # never asked for: what follows is not HTTP
                raise http.client.HTTPException("unasked protocol switch")
            raw = self._read_capped(response, started + timeout)
            reusable = not response.will_close
        except (TimeoutError, _Overdue):
            return ForwardResult(failure=FailureKind.TIMEOUT)
        except _TooLarge:
            return ForwardResult(failure=FailureKind.TOO_LARGE)
        except Exception as exc:  # noqa: BLE001 - any other failure happened after sending began
            log.warning("downstream call to %s failed mid-flight: %s", parts.hostname, type(exc).__name__)
            return ForwardResult(failure=FailureKind.PROTOCOL)
        finally:
            if reusable:
                upstream.give(conn)
            else:
                conn.close()
        return ForwardResult(response.status, _headers(response), _decode(raw),
                             round((time.perf_counter() - started) * 1000, 3))

    def _read_capped(self, response, deadline):
        chunks, size = [], 0
        while True:
            chunk = response.read1(8 * 1024)  # what has arrived, up to 8 KiB: the deadline is checked often
            if not chunk:
                if response.length:  # the provider hung up before the length it announced
                    raise http.client.IncompleteRead(b"".join(chunks), response.length)
                response.close()  # read to its end (read1 leaves that to the caller): the connection is free again
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_body:
                raise _TooLarge()
            if time.perf_counter() > deadline:
                raise _Overdue()
            chunks.append(chunk)

    def close(self):
        """Close every idle connection; connections in use are closed when their call ends."""
        with self._lock:
            upstreams, self._upstreams = list(self._upstreams.values()), {}
        for upstream in upstreams:
            upstream.close()


class _Upstream:
    """The idle keep-alive connections to one upstream, the most recently used first."""

    def __init__(self, scheme, host, port, size):
        if scheme not in ("http", "https") or not host:
            raise ValueError(f"cannot call {scheme}://{host}")
        self.scheme, self.host, self.port, self.size = scheme, host, port, size
        self.idle = []  # list.append and list.pop are atomic: no lock on the way in or out
        self.closed = False

    def take(self, connect_timeout):
        """An idle connection the provider has not closed, or a new one, connected (TLS included)."""
        while True:
            try:
                conn = self.idle.pop()
            except IndexError:
                break
            if not _dropped(conn.sock):
                return conn
            conn.close()  # closed by the provider while idle: nothing was sent on it
        if self.scheme == "https":
            conn = HTTPSConnection(self.host, self.port, timeout=connect_timeout, context=_tls())
        else:
            conn = HTTPConnection(self.host, self.port, timeout=connect_timeout)
        conn.connect()
        return conn

    def give(self, conn):
        """Keep ``conn`` for the next call, unless enough are kept already."""
        if self.closed or len(self.idle) >= self.size:
            conn.close()
        else:
            self.idle.append(conn)

    def close(self):
        """Close the idle connections; any given back later is closed too."""
        self.closed = True
        while self.idle:
            self.idle.pop().close()


def _dropped(sock):
    """Whether the provider closed (or wrote unasked on) an idle connection: readable before a request is."""
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


@functools.cache
def _tls():
    return ssl.create_default_context()  # verified certificates and host names, TLS 1.2 or newer


def _put_request(conn, call, parts):
    """Buffer the request line and headers (nothing is written to the socket yet); returns the body to send and
    whether it goes chunked (only when the function's headers ask for it)."""
    own = call.get("headers", {})
    given = {name.lower(): value for name, value in own.items()}
    if len(given) < len(own):  # "Host" and "host": the provider would pick one, the switch cannot say which
        raise ValueError("a header is given twice")
    # A function's header replaces a default of any case (both would be sent: two Content-Types).
    headers = {**{name: value for name, value in DEFAULT_HEADERS if name.lower() not in given}, **own}
    request_id = request_id_var.get()
    if request_id and "x-request-id" not in given:
        headers["X-Request-ID"] = request_id
    traceparent = traceparent_var.get()
    if traceparent and "traceparent" not in given:  # the payment's trace continues at the provider (W3C Trace Context)
        headers["traceparent"] = traceparent
    body = call.get("body")
    data = None if body is None else body if isinstance(body, bytes) else \
        form_encode(body).encode() if _is_form(headers) else orjson.dumps(body)
    coding = given.get("transfer-encoding")
    chunked = coding is not None
    if chunked and coding.strip().lower() != "chunked":  # another coding is not applied here: the body would lie
        raise ValueError("only Transfer-Encoding: chunked can be sent")
    # The length is the body's own: a shorter one given by the function would make the provider read the body's
    # tail as a next request (smuggled), a longer one leave it waiting for bytes that never come.
    headers = {name: value for name, value in headers.items() if name.lower() != "content-length"}
    if chunked and data is None:
        data = b""  # http.client writes the last chunk only after a body
    elif not chunked and (data is not None or call["method"] in BODY_METHODS):
        headers["Content-Length"] = str(len(data or b""))
    if "user-agent" not in given:
        headers["User-Agent"] = USER_AGENT
    target = parts.path + (f"?{parts.query}" if parts.query else "") or "/"
    conn.putrequest(call["method"], target, skip_host="host" in given,
                    skip_accept_encoding="accept-encoding" in given)
    for name, value in headers.items():
        conn.putheader(name, value)
    return data, chunked


def _headers(response):
    """The response's headers, names lower-cased, repeated ones joined with ", " (RFC 9110 §5.3)."""
    headers = {}
    for name, value in response.msg.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


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
