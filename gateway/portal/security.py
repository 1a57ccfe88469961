"""Security headers on every response (the sign-in throttle is the switch's limits store: gateway/portal/auth.py)."""

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


def home():
    """``/``: the portal's dashboard (which asks to sign in first)."""
    return redirect(url_for("portal.dashboard"))


def favicon():
    """``/favicon.ico``, which browsers and tools ask for on every site: the portal's icon."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)
