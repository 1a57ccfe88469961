"""The admin portal: server-rendered pages on the same service layer as the admin API.

``init_app`` attaches everything the portal needs: Bootstrap (served from
the installed Bootstrap-Flask package), CSRF protection (checked for the
portal blueprint only, so the JSON API keeps its Bearer-token contract),
Flask-Login sessions, security headers and HTML error pages.
"""

from flask.sessions import SecureCookieSessionInterface

from gateway.portal import auth, errors, filters, samples, security
from gateway.portal.blueprint import bp
from gateway.portal.extensions import bootstrap, csrf
from gateway.portal.views import (  # noqa: F401  (attach views)
    alerts,
    attention,
    client_users,
    clients,
    deliveries,
    functions,
    integrations,
    live,
    provider_credentials,
    reconciliation,
    services,
    traffic,
    two_factor,
    users,
)


class PortalOnlySessions(SecureCookieSessionInterface):
    """Cookie sessions for the portal only: the JSON APIs never read or set one (and save the work)."""

    def open_session(self, app, request):
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app):
    """Attach the portal to ``app`` (under ``/portal``; ``/`` redirects there)."""
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    # CSRF is enforced by the portal blueprint's before_request (csrf.protect()),
    # never on the API blueprints, which authenticate with Bearer tokens.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="mospay_session")
    app.session_interface = PortalOnlySessions()
    bootstrap.init_app(app)
    csrf.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    app.add_template_filter(samples.pretty, "pretty_json")
    app.add_template_filter(filters.when, "when")
    app.register_blueprint(bp)
    app.add_url_rule("/", "portal_home", security.home)
    app.add_url_rule("/favicon.ico", "favicon", security.favicon)
