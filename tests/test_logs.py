"""Logs: JSON lines with a request id, and never a secret."""

import json
import logging

import requests

from gateway.logs import JsonFormatter, request_id_from


def test_a_sane_request_id_is_kept_and_anything_else_replaced():
    assert request_id_from("abc-123") == "abc-123"
    assert len(request_id_from("bad id\nInjected: yes")) == 32
    assert len(request_id_from(None)) == 32


def test_lines_are_json_with_extras():
    record = logging.LogRecord("gateway.x", logging.INFO, "", 0, "paid %s", ("ref",), None)
    record.app_id = "shop"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "paid ref" and line["app_id"] == "shop" and line["level"] == "INFO"


def test_the_request_id_travels_to_the_provider_and_back(integrator, downstream):
    response = requests.post(f"{integrator.base_url}/api/v1/payment/process", json=integrator.message(),
                             auth=integrator.auth, headers={**integrator.headers, "X-Request-ID": "trace-42"})

    assert response.headers["X-Request-ID"] == "trace-42"
    assert downstream.received[0]["headers"]["X-Request-ID"] == "trace-42"


def test_no_secret_reaches_the_log(integrator, downstream, caplog):
    caplog.set_level(logging.DEBUG)
    pin, password = "SENTINEL-LOG-PIN-5511", "SENTINEL-LOG-PASS-6622"
    downstream.behaviour = lambda p, h, b: (500, {"echo": b}, 0)

    integrator.pay(integrator.message(f007=pin, f008=password))
    requests.post(f"{integrator.base_url}/api/v1/payment/process", json=integrator.message(f007=pin),
                  auth=(integrator.auth[0], password), headers=integrator.headers)

    text = caplog.text + "".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert pin not in text and password not in text and integrator.auth[1] not in text
    payment_lines = [r for r in caplog.records if r.name == "gateway.hot_path.payments"]
    assert payment_lines and payment_lines[0].msisdn == "*********456"
