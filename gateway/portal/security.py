"""Security headers on every response, and the sign-in throttle."""

import threading
import time

from flask import current_app, redirect, send_from_directory, url_for

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_app(app):
    """Add the security headers (without overriding a view's own) to every response."""

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.extensions["mospay_portal_throttle"] = LoginThrottle()


def home():
    """``/``: the portal's dashboard (which asks to sign in first)."""
    return redirect(url_for("portal.dashboard"))


def favicon():
    """``/favicon.ico``, which browsers and tools ask for on every site: the portal's icon."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)


class LoginThrottle:
    """Per (username, address) failure counter: ``limit`` failures in ``window`` s lock for ``window`` s.

    In memory, per process: enough to slow a guesser down on one instance;
    a cluster-wide limit would live in Redis like the API's rate limits.
    """

    def __init__(self, limit=5, window=900, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures = {}
        self._lock = threading.Lock()

    def _recent(self, key, now):
        failures = [t for t in self._failures.get(key, ()) if now - t < self.window]
        if failures:
            self._failures[key] = failures
        else:
            self._failures.pop(key, None)
        return failures

    def locked_for(self, username, address):
        """Seconds until ``username`` may try again from ``address`` (0 when not locked)."""
        key, now = (username.lower(), address), self.clock()
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                return 0
            return max(1, int(self.window - (now - failures[-1])))

    def failed(self, username, address):
        """Count one failed sign-in."""
        key, now = (username.lower(), address), self.clock()
        with self._lock:
            self._failures.setdefault(key, []).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of usernames
                self._failures.clear()

    def succeeded(self, username, address):
        """Forget the failures of a user who signed in."""
        with self._lock:
            self._failures.pop((username.lower(), address), None)
