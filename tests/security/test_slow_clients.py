"""Issue 11, point 5: slow or idle clients cannot hold the threads that run payments.

The attack: sockets that send a payment's headers and then trickle its body one byte at a time (and others
that connect and stay idle, or keep a finished keep-alive connection open) took every server thread of the
real `python app.py`; legitimate payments waited for them. Here 50 such sockets stay open while a client of
the demo pays 20 times: every payment must succeed, each answered in under a second.
"""

import socket
import threading
import time

import pytest
import requests

from tests.servers import clean_env, free_port, start_app, stop_app

SLOW_SOCKETS = 50
PAYMENTS = 20
DEMO_AUTH = ("akaliza", "akaliza-demo-secret")
MESSAGE = {"f000": "mtnmomorwa", "f001": "collection", "f002": "payment", "f003": "akaliza", "f004": "1500",
           "f005": "250788123456"}


@pytest.fixture(scope="module")
def switch(tmp_path_factory):
    """The real `python app.py` with the demo (client, route, simulator), its default workers and threads."""
    tmp = tmp_path_factory.mktemp("slow-clients")
    env = clean_env(MOSPAY_DATA_DIR=tmp / "instance", MOSPAY_ROUTES_DIR=tmp / "routes", MOSPAY_DEMO=1,
                    MOSPAY_WORKER=0, PORT=free_port(), MOSPAY_SIMULATOR_PORT=free_port())
    process = start_app(env)
    yield "127.0.0.1", int(env["PORT"])
    stop_app(process)


class Loris:
    """Slow sockets: payment headers then a body one byte per second, silent sockets, idle keep-alives."""

    def __init__(self, address):
        self.address = address
        self.trickling, self.idle = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, name="loris", daemon=True)

    def open(self, count):
        for n in range(count):
            sock = socket.create_connection(self.address, timeout=5)
            if n % 2 == 0:  # headers promising a body, then the body one byte per second
                sock.sendall(b"POST /api/v1/payment/process HTTP/1.1\r\nHost: switch\r\nApp-ID: akaliza\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
                self.trickling.append(sock)
            elif n % 4 == 1:  # connects and never says a word
                self.idle.append(sock)
            else:  # one finished request on a keep-alive connection, then silence
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: switch\r\n\r\n")
                self.idle.append(sock)
        self.thread.start()
        return self

    def _trickle(self):
        while not self.stop.wait(1.0):
            for sock in self.trickling:
                try:
                    sock.sendall(b" ")
                except OSError:
                    pass  # the server gave up on this one: that is allowed

    def close(self):
        self.stop.set()
        self.thread.join()
        for sock in self.trickling + self.idle:
            sock.close()


def test_fifty_slow_sockets_do_not_delay_other_payments(switch):
    host, port = switch
    url = f"http://{host}:{port}/api/v1/payment/process"
    for n in range(6):  # each worker's first payment checks the password with bcrypt (~0.3 s): not what is measured
        requests.post(url, json={**MESSAGE, "f010": f"slow-clients-warm-{n}"}, auth=DEMO_AUTH,
                      headers={"App-ID": "akaliza", "Connection": "close"}, timeout=5)
    loris = Loris(switch).open(SLOW_SOCKETS)
    try:
        time.sleep(2.5)  # the trickling sockets have sent a few bytes each: every thread would be holding one
        results = []
        for n in range(PAYMENTS):
            started = time.monotonic()
            try:
                answer = requests.post(url, json={**MESSAGE, "f010": f"slow-clients-{n:04d}"}, auth=DEMO_AUTH,
                                       headers={"App-ID": "akaliza", "Connection": "close"}, timeout=5)
                outcome = answer.status_code, answer.json().get("status")
            except requests.RequestException as error:
                outcome = type(error).__name__, None
            results.append((outcome, round(time.monotonic() - started, 3)))
    finally:
        loris.close()

    failed = [(n, outcome, seconds) for n, (outcome, seconds) in enumerate(results)
              if outcome != (202, "PENDING") or seconds >= 1.0]  # MTN accepts (202) at once
    assert not failed, f"{len(failed)}/{PAYMENTS} payments failed or took ≥ 1 s: {failed}"


def _answer_within(sock, seconds):
    """What the server sends before closing, waiting at most ``seconds``."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_a_request_not_sent_in_full_within_the_body_timeout_is_dropped(switch):
    body_trickler = socket.create_connection(switch, timeout=5)
    body_trickler.sendall(b"POST /api/v1/payment/process HTTP/1.1\r\nHost: switch\r\nContent-Length: 100\r\n\r\n{")
    header_trickler = socket.create_connection(switch, timeout=5)
    header_trickler.sendall(b"POST /api/v1/payment/process HTTP/1.1\r\nHost: sw")
    started = time.monotonic()
    try:
        body_answer = _answer_within(body_trickler, 15)
        header_answer = _answer_within(header_trickler, max(15 - (time.monotonic() - started), 1))
    finally:
        body_trickler.close()
        header_trickler.close()

    assert body_answer is not None and body_answer.startswith(b"HTTP/1.1 408"), body_answer
    assert b"REQUEST_TIMEOUT" in body_answer
    assert header_answer is not None, "a connection that never finished its headers was kept open"
    assert time.monotonic() - started < 14  # MOSPAY_BODY_TIMEOUT_SECONDS is 10
