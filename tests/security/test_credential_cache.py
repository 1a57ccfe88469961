"""The verified-credential cache never holds a password and dies with a rotation."""

from gateway.security.credential_cache import CredentialCache


def test_a_remembered_credential_is_bound_to_its_hash():
    cache = CredentialCache("secret", ttl_seconds=60)
    cache.remember("app", "user", "pw", "hash-1")

    assert cache.is_verified("app", "user", "pw", "hash-1")
    assert not cache.is_verified("app", "user", "pw", "hash-2")  # rotated
    assert not cache.is_verified("app", "user", "other", "hash-1")
    assert all(b"pw" not in key for key in cache._entries)


def test_entries_expire():
    cache = CredentialCache("secret", ttl_seconds=-1)
    cache.remember("app", "user", "pw", "h")
    assert not cache.is_verified("app", "user", "pw", "h")
