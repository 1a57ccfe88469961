"""JWTs: algorithm pinned, audience checked, expiry enforced."""

import jwt

from gateway.security import tokens

SECRET = "x" * 40


def test_a_token_is_valid_only_for_its_audience():
    token = tokens.issue(SECRET, "user", "app1", 1, 60)
    assert tokens.decode(SECRET, token, "app1")["sub"] == "user"
    assert tokens.decode(SECRET, token, "app2") is None


def test_expired_and_unsigned_tokens_are_refused():
    assert tokens.decode(SECRET, tokens.issue(SECRET, "u", "a", 1, -10), "a") is None
    unsigned = jwt.encode({"sub": "u", "aud": "a", "ver": 1, "iat": 0, "exp": 2**40}, key=None, algorithm="none")
    assert tokens.decode(SECRET, unsigned, "a") is None
