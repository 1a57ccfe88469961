"""What the provider-token step costs a payment once the token is cached: ``python bench/token_cache.py``.

Every payment on a route with a token step asks ``ProviderTokens.token`` for it; after the first fetch that is a
dictionary lookup keyed by the route's precomputed scope. This times exactly that call.
"""

import sys
import time
import timeit
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.hot_path.provider_tokens import ProviderTokens, _Cached, scope_of  # noqa: E402

CALLS = 200_000


def main():
    """Print the best of five timings of a cached token lookup, per payment."""
    route = SimpleNamespace(url="https://sandbox.momodeveloper.mtn.com", credentials={
        "api_user": "0b6a3c1e-5f2d-4c8a-9e7b-1d2f3a4b5c6d", "api_key": "k" * 32, "subscription_key": "s" * 32,
        "target_environment": "sandbox"}, token_step={
        "path": "/collection/token/", "method": "POST", "basic": ["api_user", "api_key"],
        "headers": {"Ocp-Apim-Subscription-Key": "subscription_key"}, "token_field": "access_token",
        "expires_field": "expires_in"})
    route.token_scope = scope_of(route.url, route.token_step, route.credentials)  # as the route table sets it
    tokens = ProviderTokens()
    tokens._cache[route.token_scope] = _Cached("eyJ0eXAi" + "x" * 800, time.monotonic() + 3600)
    best = min(timeit.repeat(lambda: tokens.token(None, route, None), number=CALLS, repeat=5)) / CALLS
    print(f"cached provider token: {best * 1e6:.2f} µs per payment (best of 5 × {CALLS} calls)")


if __name__ == "__main__":
    main()
