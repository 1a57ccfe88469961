"""The integrators' self-service portal at ``/client/``: a surface of its own beside the admin portal.

Same look (the admin portal's Bootstrap assets, macros and stylesheet, served by the app), but its own
blueprint, its own sign-in (client users, ``gateway/admin/client_users.py``) and its own session cookie:
a different name, path and signing salt, so an admin's session is no client session and a client user's
cookie means nothing to the admin portal or the admin API. CSRF, the sign-in throttle and the security
headers are the admin portal's.
"""

from flask import has_request_context, request

from gateway.client_portal import auth, views  # noqa: F401  (attach views)
from gateway.client_portal.blueprint import bp
from gateway.portal import PortalOnlySessions

COOKIE_NAME = "mospay_client_session"


def on_client_surface():
    """Whether the current request is for the client portal."""
    return has_request_context() and (request.path == "/client" or request.path.startswith("/client/"))


class SurfaceSessions(PortalOnlySessions):
    """The admin portal's session cookie, and for ``/client/`` one of its own (name, path and salt)."""

    @property
    def salt(self):
        return "mospay-client-session" if on_client_surface() else "cookie-session"

    def get_cookie_name(self, app):
        return COOKIE_NAME if on_client_surface() else super().get_cookie_name(app)

    def get_cookie_path(self, app):
        return "/client" if on_client_surface() else super().get_cookie_path(app)


def init_app(app):
    """Attach the client portal to ``app`` (after the admin portal, whose extensions it shares)."""
    app.session_interface = SurfaceSessions()
    app.register_blueprint(bp)
