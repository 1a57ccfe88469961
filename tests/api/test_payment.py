"""The payment endpoint served ahead of Flask (``DirectPaymentPath``): every request answered as Flask's view and
hooks answered it, odd ones included (an attacker's review of the change found the cases below)."""

import base64
import socket
from urllib.parse import urlsplit

import orjson
import pytest
from werkzeug.test import Client

from gateway.api import payment
from gateway.logs import request_id_var

PATH = "/api/v1/payment/process"

ODD_REQUESTS = {
    "Content-Length not a number": ({"CONTENT_LENGTH": "abc"}, b"{}"),
    "Content-Length negative": ({"CONTENT_LENGTH": "-1"}, b"{}"),
    "Content-Length a superscript digit": ({"CONTENT_LENGTH": "\u00b2"}, b"{}"),  # isdigit(), yet int() refuses it
    "Content-Length 0 on a chunked body": ({"CONTENT_LENGTH": "0", "HTTP_TRANSFER_ENCODING": "chunked",
                                            "wsgi.input_terminated": True}, b'{"f000": 1}'),
    "empty body": ({}, b""),
    "text/plain": ({"CONTENT_TYPE": "text/plain"}, b"{}"),
    "JSON with a charset, not an object": ({"CONTENT_TYPE": "Application/JSON ; charset=latin-1"}, b"[]"),
    "declared too large": ({"CONTENT_LENGTH": str(10 ** 9)}, b"{}"),
}


@pytest.mark.parametrize("case", sorted(ODD_REQUESTS))
def test_an_odd_request_gets_the_answer_flasks_view_gave(app, rt, integrator, case):
    overrides, body = ODD_REQUESTS[case]
    answers = []
    for wsgi in (app.wsgi_app, app.wsgi_app.next):  # the direct path, then Flask's own dispatch (the view)
        response = Client(wsgi).post(PATH, data=body, auth=integrator.auth, headers=integrator.headers,
                                     content_type="application/json", environ_overrides=overrides)
        answers.append((response.status_code, (response.get_json(silent=True) or {}).get("error", {}).get("code")))
    assert answers[0] == answers[1], answers
    assert 400 <= answers[0][0] < 500


def _raw(base_url, head, body=b""):
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_a_chunked_body_that_also_declares_a_short_content_length_is_read_whole(integrator, config, downstream):
    """A message, then padding past the body limit, chunked, with a Content-Length of the message alone: the
    direct path once trusted that length, processed the message and paid it. A chunked body's length is its
    chunks' (RFC 9112), as Werkzeug reads it: 413, nothing sent."""
    message = orjson.dumps(integrator.message())
    body = message + b" " * (config.MAX_BODY_BYTES + 10)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192])
                       for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
    basic = base64.b64encode(f"{integrator.auth[0]}:{integrator.auth[1]}".encode()).decode()
    head = (f"POST {PATH} HTTP/1.1\r\nHost: switch\r\nConnection: close\r\nAuthorization: Basic {basic}\r\n"
            f"App-ID: {integrator.headers['App-ID']}\r\nContent-Type: application/json\r\n"
            f"Transfer-Encoding: chunked\r\nContent-Length: {len(message)}\r\n\r\n").encode()

    status, answer = _raw(integrator.base_url, head, chunked)

    assert status == 413, answer
    assert orjson.loads(answer)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert downstream.received == []


def test_a_refused_payments_api_log_is_written_under_its_own_request_id(app, rt, monkeypatch):
    """Threads serve one request after another. The direct path once reset its request id before writing the API
    log row of a refusal, so that row's lines (a warning when the database is down) carried the id of the Flask
    request the thread had served before."""
    seen = []
    write = payment.write_api_log
    monkeypatch.setattr(payment, "write_api_log", lambda *args: (seen.append(request_id_var.get()), write(*args)))
    client = app.test_client()
    client.get("/api/v1/payments", headers={"X-Request-ID": "someone-elses-request"})

    answer = client.post(PATH, data=b"{}", content_type="application/json", headers={"X-Request-ID": "mine"})

    assert answer.status_code == 401 and answer.headers["X-Request-ID"] == "mine"
    assert seen == ["someone-elses-request", "mine"]
    assert request_id_var.get() is None  # and neither request's id stays behind on the thread
