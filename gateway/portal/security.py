"""Security headers on every response (the sign-in throttle is the switch's limits store: gateway/portal/auth.py)."""

from flask import current_app, redirect, send_from_directory, url_for

from gateway.security.headers import SECURITY_HEADERS


def init_app(app):
    """Add the security headers (without overriding a view's own) to every response."""

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def home():
    """``/``: the portal's dashboard (which asks to sign in first)."""
    return redirect(url_for("portal.dashboard"))


def favicon():
    """``/favicon.ico``, which browsers and tools ask for on every site: the portal's icon."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)
