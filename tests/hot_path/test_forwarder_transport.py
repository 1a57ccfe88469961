"""The forwarder's own connections, against raw sockets on loopback: what reached the provider decides the
failure kind (nothing sent → safe to call FAILED; anything else → UNKNOWN), and keep-alive never costs a payment."""

import contextlib
import socket
import threading
import time

import pytest

from gateway.hot_path.forwarder import FailureKind, Forwarder

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"


class Provider:
    """A listening socket; ``handle(conn, request_bytes)`` answers each request. Records what arrived."""

    def __init__(self, handle, keep_open=True):
        self.handle, self.keep_open = handle, keep_open
        self.requests, self.connections = [], 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/pay?x=1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.listener.accept()
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn, contextlib.suppress(OSError):  # the forwarder may hang up first
            while True:
                request = _read_request(conn)
                if not request:
                    return
                self.requests.append(request)
                if self.handle(conn, request) is False or not self.keep_open:
                    return


def _read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(
        b"content-length:")), 0)
    while len(body) < length:  # http.client writes the head and the body apart: they may arrive apart
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def spec(url, timeout_ms=1000, **extra):
    return {"url": url, "method": "POST", "headers": {}, "body": {"amount": "1500"}, "timeout_ms": timeout_ms,
            **extra}


@pytest.fixture
def forwarder():
    forwarder = Forwarder(max_body_bytes=64 * 1024)
    yield forwarder
    forwarder.close()


def test_an_answer_arrives_whole_and_the_connection_is_kept_for_the_next_call(forwarder):
    provider = Provider(lambda conn, request: conn.sendall(OK))
    first, second = forwarder.send(spec(provider.url)), forwarder.send(spec(provider.url))
    assert (first.status_code, first.body, second.body) == (200, {"status": "OK"}, {"status": "OK"})
    assert first.headers["content-type"] == "application/json"
    assert provider.connections == 1
    line, _, rest = provider.requests[0].partition(b"\r\n")
    assert line == b"POST /pay?x=1 HTTP/1.1"
    assert b"Content-Length: 17" in rest and rest.endswith(b'{"amount":"1500"}')


def test_a_refused_connection_sent_nothing(forwarder):
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}/pay"
        assert forwarder.send(spec(url)).failure is FailureKind.NOTHING_SENT


def test_no_answer_in_time_is_a_timeout_the_provider_may_have_the_call(forwarder):
    provider = Provider(lambda conn, request: time.sleep(1.5))
    result = forwarder.send(spec(provider.url, timeout_ms=300))
    assert result.failure is FailureKind.TIMEOUT and result.sent
    assert len(provider.requests) == 1


def test_an_answer_trickled_past_the_deadline_is_a_timeout(forwarder):
    def trickle(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(40):
            conn.sendall(b"x" * 10)
            time.sleep(0.05)

    provider = Provider(trickle)
    started = time.perf_counter()
    assert forwarder.send(spec(provider.url, timeout_ms=400)).failure is FailureKind.TIMEOUT
    assert time.perf_counter() - started < 1.5


def test_an_answer_over_the_size_limit_is_refused_and_its_connection_dropped(forwarder):
    provider = Provider(lambda conn, request: conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 200000))
    assert forwarder.send(spec(provider.url)).failure is FailureKind.TOO_LARGE
    assert forwarder.send(spec(provider.url)).failure is FailureKind.TOO_LARGE
    assert provider.connections == 2


def test_an_answer_cut_off_midway_may_have_been_executed(forwarder):
    def cut(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"status\":")
        return False

    provider = Provider(cut)
    result = forwarder.send(spec(provider.url))
    assert result.failure is FailureKind.PROTOCOL and result.sent


def test_an_idle_connection_the_provider_closed_is_not_used_for_the_next_payment(forwarder):
    """Providers close idle keep-alive connections; writing a payment on one would make it UNKNOWN."""
    provider = Provider(lambda conn, request: conn.sendall(OK), keep_open=False)  # answers, then hangs up
    assert forwarder.send(spec(provider.url)).status_code == 200
    time.sleep(0.2)  # the close has arrived
    second = forwarder.send(spec(provider.url))
    assert second.status_code == 200, second
    assert provider.connections == 2


def test_connection_close_and_chunked_answers(forwarder):
    answer = (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-Multi: a\r\n"
              b"X-Multi: b\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n")
    provider = Provider(lambda conn, request: conn.sendall(answer))
    first, second = forwarder.send(spec(provider.url)), forwarder.send(spec(provider.url))
    assert (first.status_code, first.body, first.headers["x-multi"]) == (202, {"a": 1}, "a, b")
    assert second.body == {"a": 1} and provider.connections == 2


def test_a_header_a_function_smuggled_a_line_into_sends_nothing(forwarder):
    provider = Provider(lambda conn, request: conn.sendall(OK))
    hostile = spec(provider.url, headers={"X-Ref": "1\r\nX-Injected: yes"})
    assert forwarder.send(hostile).failure is FailureKind.NOTHING_SENT
    time.sleep(0.1)
    assert provider.requests == []


def test_tls_that_fails_before_any_request_sent_nothing(forwarder):
    provider = Provider(lambda conn, request: conn.sendall(OK))  # plain HTTP: no TLS handshake
    result = forwarder.send(spec(provider.url.replace("http://", "https://"), timeout_ms=500))
    assert result.failure is FailureKind.NOTHING_SENT
    assert provider.requests == [] or not provider.requests[0].startswith(b"POST")


def test_a_function_s_own_host_and_length_headers_are_sent_once(forwarder):
    provider = Provider(lambda conn, request: conn.sendall(OK))
    call = spec(provider.url, headers={"Host": "api.provider.example", "User-Agent": "Tenant/1"}, method="GET",
                body=None)
    assert forwarder.send(call).status_code == 200
    head = provider.requests[0].split(b"\r\n\r\n")[0].lower()
    assert head.count(b"host:") == 1 and b"host: api.provider.example" in head
    assert head.count(b"user-agent:") == 1 and b"content-length" not in head


@pytest.mark.parametrize("odd", [
    {"headers": {"X-Ref": None}}, {"headers": {5: "v"}}, {"headers": None}, {"headers": [("X-Ref", "1")]},
    {"headers": {"Content-Type": 5}}, {"headers": {"Transfer-Encoding": 5}}, {"body": 2 ** 70},
    {"body": bytearray(b"x")}, {"timeout_ms": None}, {"timeout_ms": "100"}, {"timeout_ms": 10 ** 15},
    {"method": None},
])
def test_a_call_spec_nothing_can_be_sent_for_ends_in_nothing_sent_not_an_exception(forwarder, odd):
    """A token step's credentials or a direct caller may hand over what JSON validation would have refused."""
    provider = Provider(lambda conn, request: conn.sendall(OK))
    assert forwarder.send(spec(provider.url, **odd)).failure is FailureKind.NOTHING_SENT
    assert provider.requests == []


def _head(request):
    return request.split(b"\r\n\r\n")[0].lower().split(b"\r\n")[1:]


@pytest.mark.parametrize("length", ["0", "5", "100", "17"])
def test_a_function_s_content_length_is_the_body_s_own(forwarder, length):
    """A shorter one would make the provider read the body's tail as a next request (smuggled past the switch);
    a longer one would leave it waiting for bytes that never come."""
    provider = Provider(lambda conn, request: conn.sendall(OK))
    assert forwarder.send(spec(provider.url, headers={"content-length": length})).status_code == 200
    head = _head(provider.requests[0])
    assert [line for line in head if line.startswith(b"content-length:")] == [b"content-length: 17"]


def test_a_function_s_headers_replace_the_defaults_whatever_their_case(forwarder):
    provider = Provider(lambda conn, request: conn.sendall(OK))
    call = spec(provider.url, headers={"content-type": "application/x-www-form-urlencoded", "accept": "*/*",
                                       "user-agent": "Tenant/1"})
    assert forwarder.send(call).status_code == 200
    head = _head(provider.requests[0])
    assert [line for line in head if line.startswith(b"content-type:")] == [
        b"content-type: application/x-www-form-urlencoded"]
    assert [line for line in head if line.startswith(b"accept:")] == [b"accept: */*"]
    assert provider.requests[0].endswith(b"amount=1500")


@pytest.mark.parametrize("headers", [{"Host": "a.example", "host": "b.example"}, {"Transfer-Encoding": "gzip"},
                                     {"Transfer-Encoding": "chunked, gzip"}])
def test_headers_a_provider_could_read_two_ways_send_nothing(forwarder, headers):
    provider = Provider(lambda conn, request: conn.sendall(OK))
    assert forwarder.send(spec(provider.url, headers=headers)).failure is FailureKind.NOTHING_SENT
    time.sleep(0.1)
    assert provider.requests == []


def test_a_chunked_call_without_a_body_is_terminated(forwarder):
    received = []

    def handle(conn, request):
        data = request
        while not data.endswith(b"0\r\n\r\n"):  # the last chunk: without it the provider waits for the body
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        received.append(data)
        conn.sendall(OK)

    provider = Provider(handle)
    call = spec(provider.url, method="PUT", body=None, headers={"Transfer-Encoding": "chunked"}, timeout_ms=3000)
    assert forwarder.send(call).status_code == 200
    assert b"content-length" not in received[0].lower()


def test_interim_answers_are_skipped_and_the_final_one_is_the_payment_s(forwarder):
    """http.client skips only 100: a 103 taken as the answer left the real one for the next payment to read."""
    answers = iter([b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + OK,
                    b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"])
    provider = Provider(lambda conn, request: conn.sendall(next(answers)))
    first, second = forwarder.send(spec(provider.url)), forwarder.send(spec(provider.url))
    assert (first.status_code, first.body) == (200, {"status": "OK"})
    assert (second.status_code, second.body) == (201, {})


def test_an_unasked_protocol_switch_is_broken_and_its_connection_dropped(forwarder):
    provider = Provider(lambda conn, request: conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"))
    result = forwarder.send(spec(provider.url))
    assert result.failure is FailureKind.PROTOCOL and result.sent
    assert forwarder.send(spec(provider.url)).failure is FailureKind.PROTOCOL
    assert provider.connections == 2


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 40,  # headers a byte at a time
    b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 40,  # a body read to its close, a byte at a time
])
def test_a_provider_trickling_bytes_within_each_read_timeout_still_meets_the_deadline(forwarder, answer):
    def trickle(conn, request):
        for byte in answer:
            conn.sendall(bytes([byte]))
            time.sleep(0.15)

    provider = Provider(trickle)
    started = time.perf_counter()
    assert forwarder.send(spec(provider.url, timeout_ms=400)).failure is FailureKind.TIMEOUT
    assert time.perf_counter() - started < 3  # not the ~9 s the provider takes: each read waited its own 400 ms


def test_a_provider_that_goes_quiet_before_closing_a_read_to_close_body_meets_the_deadline(forwarder):
    def quiet(conn, request):
        time.sleep(1.5)
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n{}")
        time.sleep(6)

    provider = Provider(quiet)
    started = time.perf_counter()
    assert forwarder.send(spec(provider.url, timeout_ms=2000)).failure is FailureKind.TIMEOUT
    assert time.perf_counter() - started < 3  # not 1.5 s + a whole new 2 s read
