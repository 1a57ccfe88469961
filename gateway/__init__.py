"""MosPay: a config-driven payment switch with per-client PostgreSQL functions."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config

ROOT = Path(__file__).resolve().parents[1]


def create_app(config=None):
    """Build the switch and nothing else: no database is touched until the runtime opens (see ``Runtime``).

    Migrating and seeding are ``flask db upgrade`` / ``flask seed-demo`` (``python app.py`` runs them).
    """
    from gateway import cli, logs, metrics, openapi, portal
    from gateway.admin import rollups  # noqa: F401
    from gateway.api import admin, admin_callbacks, admin_functions, admin_lists, callbacks, health, payment
    from gateway.errors import register_error_handlers
    from gateway.follow_up import deliveries, unknown_outcome  # noqa: F401
    from gateway.runtime import Runtime

    # deliveries and unknown_outcome are imported for their job handlers (@jobs.handler), rollups for its
    # upkeep (@jobs.every): the runner needs them.

    config = config or Config()
    config.check()
    logs.configure(config.LOG_LEVEL, config.LOG_JSON)
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(config.as_flask())
    if config.TRUSTED_PROXIES:  # the real client address and scheme, from the proxies' X-Forwarded-* headers
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.TRUSTED_PROXIES, x_proto=config.TRUSTED_PROXIES)
    app.extensions["mospay"] = Runtime(config)

    logs.init_app(app)
    metrics.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(payment.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_functions.bp)
    app.register_blueprint(callbacks.bp)
    app.register_blueprint(admin_callbacks.bp)
    app.register_blueprint(admin_lists.bp)
    app.register_blueprint(health.bp)
    cli.init_app(app)
    portal.init_app(app)
    openapi.init_app(app)
    return app
