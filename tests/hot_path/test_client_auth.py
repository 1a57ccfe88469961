"""Integrators authenticate with Basic + App-ID or a JWT; every failure is the same 401."""

import base64

import pytest
import requests

from gateway.hot_path.client_auth import parse_basic


def post(integrator, auth=None, headers=None):
    return requests.post(f"{integrator.base_url}/api/v1/payment/process", json=integrator.message(),
                         auth=auth, headers=headers)


@pytest.mark.parametrize("case", ["no auth", "wrong password", "wrong username", "no app id", "other app id",
                                  "garbage basic", "garbage bearer"])
def test_bad_credentials_are_401_and_change_nothing(integrator, downstream, db, case):
    good_auth, app_id = integrator.auth, integrator.client["app_id"]
    auth, headers = {
        "no auth": (None, {"App-ID": app_id}),
        "wrong password": ((good_auth[0], "nope"), {"App-ID": app_id}),
        "wrong username": (("someone", good_auth[1]), {"App-ID": app_id}),
        "no app id": (good_auth, {}),
        "other app id": (good_auth, {"App-ID": "akaliza"}),
        "garbage basic": (None, {"App-ID": app_id, "Authorization": "Basic %%%"}),
        "garbage bearer": (None, {"App-ID": app_id, "Authorization": "Bearer a.b.c"}),
    }[case]
    before = db("SELECT count(*) AS n FROM mospay.transactions")[0]["n"]

    response = post(integrator, auth, headers)

    assert response.status_code == 401 and response.json()["error"]["code"] == "UNAUTHORIZED"
    assert db("SELECT count(*) AS n FROM mospay.transactions")[0]["n"] == before
    assert downstream.received == []


def test_a_jwt_works_until_the_credentials_rotate(integrator, admin):
    token = requests.post(f"{integrator.base_url}/api/v1/auth/token", auth=integrator.auth,
                          headers=integrator.headers).json()["access_token"]
    bearer = {**integrator.headers, "Authorization": f"Bearer {token}"}
    assert post(integrator, headers=bearer).status_code == 200
    # A token is bound to its App-ID (its audience).
    assert post(integrator, headers={**bearer, "App-ID": "akaliza"}).status_code == 401

    rotated = admin.post(f"/clients/{integrator.client['app_id']}/credentials").json()

    assert post(integrator, headers=bearer).status_code == 401
    assert post(integrator, auth=integrator.auth, headers=integrator.headers).status_code == 401
    fresh = (rotated["username"], rotated["password"])
    assert post(integrator, auth=fresh, headers=integrator.headers).status_code == 200


def test_a_deactivated_client_is_refused_at_once(integrator, admin):
    assert post(integrator, integrator.auth, integrator.headers).status_code == 200

    admin.post(f"/clients/{integrator.client['app_id']}/deactivate")

    assert post(integrator, integrator.auth, integrator.headers).status_code == 401
    admin.post(f"/clients/{integrator.client['app_id']}/activate")
    assert post(integrator, integrator.auth, integrator.headers).status_code == 200


def test_parse_basic_accepts_only_well_formed_headers():
    encoded = base64.b64encode(b"user:pa:ss").decode()
    assert parse_basic(f"Basic {encoded}") == ("user", "pa:ss")
    assert parse_basic("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Bearer x") is None
    assert parse_basic("") is None


def test_non_ascii_basic_credentials_are_401(integrator):
    response = post(integrator, headers={"App-ID": integrator.client["app_id"], "Authorization": "Basic é"})
    assert response.status_code == 401


def test_a_token_cannot_renew_itself(integrator):
    token = requests.post(f"{integrator.base_url}/api/v1/auth/token", auth=integrator.auth,
                          headers=integrator.headers).json()["access_token"]
    renewed = requests.post(f"{integrator.base_url}/api/v1/auth/token",
                            headers={**integrator.headers, "Authorization": f"Bearer {token}"})
    assert renewed.status_code == 401
