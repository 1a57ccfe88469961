"""Provider access tokens: fetched by the switch as a template or service declares, cached, shared.

A token step is data (``sql/functions/<template>/provider.yaml`` or the service's
``"token"`` setting): a path under the service's base URL, a method, which two
credentials form the Basic header, extra headers taken from credentials, and
where the token and its lifetime are in the answer. No provider is named here.

A token lives in this process's memory until shortly before it expires and, sealed,
in ``mospay.provider_tokens`` for every other worker and instance. Only one caller
refreshes a scope at a time (an advisory lock): the others wait for it and read the
row it wrote. A provider's 401 drops exactly the token it refused.
"""

import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from gateway.db import Q
from gateway.hot_path.forwarder import upstream_key

log = logging.getLogger(__name__)
DEFAULT_LIFETIME_SECONDS = 3600
# Refresh this long before expiry (at most a tenth of the lifetime), so no call carries a token about to lapse.
REFRESH_MARGIN_SECONDS = 60


class TokenStepFailed(Exception):
    """The token step did not yield a token; ``detail`` says why (never the credentials)."""

    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class _Cached:
    token: str
    refresh_at: float  # time.monotonic() after which it is fetched again


def scope_of(url, step, credentials):
    """What a token belongs to: the token URL, the step and the credentials it is made of (hashed). The route
    table computes it once per route (``RouteEntry.token_scope``), so a payment only looks it up."""
    used = sorted({*(step.get("basic") or ()), *(step.get("headers") or {}).values()})
    material = orjson.dumps({"url": _url(url, step), "step": step,
                             "credentials": [credentials.get(name) for name in used]}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(material).hexdigest()


def token_scope(route):
    """The route's token scope (precomputed by the route table when it can be)."""
    return getattr(route, "token_scope", None) or scope_of(route.url, route.token_step, route.credentials)


def token_url(route):
    """The token endpoint: the step's path under the service's base URL."""
    return _url(route.url, route.token_step)


def _url(base, step):
    return base.rstrip("/") + "/" + step["path"].lstrip("/")


def token_call(route, timeout_ms):
    """The call spec of the token step, built from the route's credentials."""
    step, credentials = route.token_step, route.credentials
    headers = {name: credentials.get(source, "") for name, source in (step.get("headers") or {}).items()}
    basic = step.get("basic")
    if basic:
        pair = f"{credentials.get(basic[0], '')}:{credentials.get(basic[1], '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    return {"url": token_url(route), "method": step.get("method", "POST").upper(), "headers": headers,
            "body": step.get("body"), "timeout_ms": timeout_ms, "sensitive": []}


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


class ProviderTokens:
    """The per-process token cache in front of the shared, sealed table."""

    def __init__(self):
        self._cache = {}
        self._lock = threading.Lock()

    def token(self, rt, route, send):
        """A valid access token for ``route``; raises ``TokenStepFailed`` when the provider gives none.

        ``send(spec)`` performs the token call (the route pipeline's forwarding, with its circuit breaker)."""
        scope = token_scope(route)
        cached = self._cache.get(scope)
        if cached is not None and time.monotonic() < cached.refresh_at:
            return cached.token  # the hot path: a dict lookup
        return self._refresh(rt, route, scope, send)

    def invalidate(self, rt, route, token):
        """The provider refused ``token`` (401): forget it here and for every worker."""
        scope = token_scope(route)
        with self._lock:
            cached = self._cache.get(scope)
            if cached is not None and cached.token == token:
                del self._cache[scope]
        with rt.db.connection() as conn:
            conn.execute(Q.drop_provider_token, {"scope": scope, "token_hash": _hash(token)})

    def _refresh(self, rt, route, scope, send):
        with rt.db.transaction() as conn:
            row = conn.execute(Q.provider_token, {"scope": scope}).fetchone()
            if row is None or not row["fresh"]:
                conn.execute(Q.lock_token_scope, {"scope": scope})  # one refresher; the rest wait, then read
                row = conn.execute(Q.provider_token, {"scope": scope}).fetchone()
            if row is not None and row["fresh"]:
                token = rt.sealer.open(row["token_sealed"])
                if token is not None:
                    return self._remember(scope, token, _seconds_until(row["refresh_at"]))
            token, lifetime = self._fetch(rt, route, send)
            refresh = max(lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 10), 1)
            conn.execute(Q.store_provider_token, {"scope": scope, "token_sealed": rt.sealer.seal(token),
                                                  "token_hash": _hash(token), "refresh_seconds": refresh,
                                                  "lifetime_seconds": lifetime})
        log.info("provider token fetched for %s (valid %ss)", upstream_key(token_url(route))[1], lifetime)
        return self._remember(scope, token, refresh)

    def _remember(self, scope, token, seconds):
        with self._lock:
            self._cache[scope] = _Cached(token, time.monotonic() + seconds)
        return token

    def _fetch(self, rt, route, send):
        """Run the token step through the upstream's circuit breaker; ``(token, lifetime_seconds)``."""
        step = route.token_step
        result = send(token_call(route, min(route.timeout_ms, rt.config.MAX_TIMEOUT_MS)))
        body = result.body if isinstance(result.body, dict) else {}
        token = body.get(step.get("token_field", "access_token"))
        if result.failure is None and result.ok and isinstance(token, str) and token:
            try:
                lifetime = float(body.get(step.get("expires_field", "expires_in"), DEFAULT_LIFETIME_SECONDS))
            except (TypeError, ValueError):
                lifetime = DEFAULT_LIFETIME_SECONDS
            return token, max(lifetime, 1.0)
        if result.failure is None and result.status_code < 500:
            # A refusal (bad credentials) is a failure of this upstream too: the breaker counts it.
            rt.forwarder.circuits.breaker(upstream_key(token_url(route))).record(False)
        what = result.failure.value if result.failure is not None else f"HTTP {result.status_code}"
        raise TokenStepFailed(f"the token step ({token_url(route)}) gave no token: {what}")


def _seconds_until(moment):
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
