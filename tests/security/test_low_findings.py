"""Low findings of the attack run (issue 11, point 10): each attack, replayed through the real HTTP API."""

import pytest

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
