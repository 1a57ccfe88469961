"""Abuse limits: client rates and sign-in lockout."""

import time

import pytest
import requests

from gateway.errors import RateLimited, TooManyAttempts
from gateway.hot_path.rate_limits import AbuseLimits


def test_a_client_over_its_rate_gets_429_with_retry_after():
    limits = AbuseLimits("memory://", "3/minute", "10/minute")
    for _ in range(3):
        limits.check_client("shop")
    with pytest.raises(RateLimited) as refused:
        limits.check_client("shop")
    assert int(refused.value.headers["Retry-After"]) >= 1
    limits.check_client("other_shop")  # each client has its own budget


def test_failures_lock_out_one_name_from_one_address_only():
    limits = AbuseLimits("memory://", "100/second", "2/minute")
    limits.record_failure("client", "shop", "10.0.0.1")
    limits.record_failure("client", "shop", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        limits.check_not_locked("client", "shop", "10.0.0.1")
    limits.check_not_locked("client", "shop", "10.0.0.2")
    limits.check_not_locked("client", "other", "10.0.0.1")


def test_repeated_bad_passwords_lock_the_caller_out_even_with_the_right_one_after(integrator):
    url = f"{integrator.base_url}/api/v1/payment/process"
    for guess in range(10):  # ten different guesses: one wrong password repeated locks only itself
        bad = requests.post(url, json=integrator.message(), auth=(integrator.auth[0], f"wrong-{guess}"),
                            headers=integrator.headers)
        assert bad.status_code == 401

    locked = integrator.pay()

    assert locked.status_code == 429 and locked.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
    assert int(locked.headers["Retry-After"]) > 0


def test_admin_sign_in_is_throttled_too(base_url):
    for _ in range(10):
        requests.post(f"{base_url}/api/v1/admin/token", auth=("ghost-admin", "nope"))
    response = requests.post(f"{base_url}/api/v1/admin/token", auth=("ghost-admin", "nope"))
    assert response.status_code == 429 and response.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"


def test_limits_are_shared_through_redis_when_configured():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server answers on 127.0.0.1:6379")
    first = AbuseLimits("redis://127.0.0.1:6379/15", "2/minute", "10/minute")
    second = AbuseLimits("redis://127.0.0.1:6379/15", "2/minute", "10/minute")  # another instance
    name = f"shop-{time.time_ns()}"
    first.check_client(name)
    second.check_client(name)
    with pytest.raises(RateLimited):
        first.check_client(name)
