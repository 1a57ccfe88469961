"""Low findings of the attack run (issue 11, point 10): each attack, replayed through the real HTTP API."""

import orjson
import pytest
import requests

from tests.conftest import ADMIN_PASSWORD
from tests.factories import unique_name


@pytest.mark.parametrize("password", ["x" * 73, "é" * 40, "🔑" * 19])  # 73, 80 and 76 bytes; 73, 40, 19 characters
def test_a_password_bcrypt_cannot_take_is_a_400_naming_the_limit(admin, password):
    username = unique_name("user")
    created = admin.post("/users", {"username": username, "role": "viewer", "password": password})
    changed = admin.post("/password", {"current_password": ADMIN_PASSWORD, "new_password": password})
    for response, field in ((created, "password"), (changed, "new_password")):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"][field].startswith("must be at most 72 bytes in UTF-8")
    assert admin.post("/users", {"username": username, "role": "viewer", "password": "é" * 36}).status_code == 201


def _chunks(body, size=8192):
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_a_chunked_body_over_the_limit_is_413_not_cut_and_processed(integrator, config, downstream):
    # A message followed by whitespace past MOSPAY_MAX_BODY_BYTES, sent without Content-Length: it was read
    # up to the limit, the cut still parsed, and the payment was processed.
    body = orjson.dumps(integrator.message()) + b" " * config.MAX_BODY_BYTES
    response = requests.post(f"{integrator.base_url}/api/v1/payment/process", data=_chunks(body),
                             auth=integrator.auth, headers={**integrator.headers, "Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert downstream.received == []
    fits = orjson.dumps(integrator.message())
    answered = requests.post(f"{integrator.base_url}/api/v1/payment/process", data=_chunks(fits, 16),
                             auth=integrator.auth, headers={**integrator.headers, "Content-Type": "application/json"},
                             timeout=10)
    assert answered.status_code == 200, answered.text
