"""MosPay: a config-driven payment switch with per-client PostgreSQL functions."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config

ROOT = Path(__file__).resolve().parents[1]


class SwitchFlask(Flask):
    """Flask, minus a per-request cost: whether a view or hook is ``async`` is decided once per function."""

    def ensure_sync(self, func):
        """Flask's ``ensure_sync``, remembered (``inspect.iscoroutinefunction`` took 2% of a payment's CPU)."""
        cache = self.__dict__.setdefault("_sync_functions", {})
        try:
            return cache[func]
        except KeyError:
            made = super().ensure_sync(func)
            if len(cache) < 1024:  # views and hooks are a fixed set; per-request callbacks must not grow it
                cache[func] = made
            return made
        except TypeError:  # an unhashable callable: decide every time, as Flask does
            return super().ensure_sync(func)


def create_app(config=None):
    """Build the switch and nothing else: no database is touched until the runtime opens (see ``Runtime``).

    Migrating and seeding are ``flask db upgrade`` / ``flask seed-demo`` (``python app.py`` runs them).
    """
    from gateway import cli, client_portal, logs, metrics, openapi, portal
    from gateway.admin import rollups  # noqa: F401
    from gateway.api import (
        admin,
        admin_alerts,
        admin_callbacks,
        admin_client_users,
        admin_credentials,
        admin_exports,
        admin_functions,
        admin_lists,
        admin_reconciliation,
        callbacks,
        health,
        payment,
    )
    from gateway.cli import operations as cli_operations
    from gateway.errors import register_error_handlers
    from gateway.follow_up import alert_notifications, alerts, deliveries, partitions, unknown_outcome  # noqa: F401
    from gateway.runtime import Runtime

    # deliveries, unknown_outcome and alert_notifications are imported for their job handlers (@jobs.handler),
    # alerts, partitions and rollups for their periodic work (@schedule.periodic): the runner needs them.

    config = config or Config()
    config.check()
    logs.configure(config.LOG_LEVEL, config.LOG_JSON)
    app = SwitchFlask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(config.as_flask())
    # The payment endpoint skips Flask's dispatch (gateway/api/payment.py); it sits inside ProxyFix, so it sees the
    # real client address too.
    app.wsgi_app = payment.DirectPaymentPath(app, app.wsgi_app)
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
    app.register_blueprint(admin_client_users.bp)
    app.register_blueprint(admin_exports.bp)
    app.register_blueprint(admin_reconciliation.bp)
    app.register_blueprint(admin_alerts.bp)
    app.register_blueprint(admin_credentials.bp)
    app.register_blueprint(admin_lists.bp)
    app.register_blueprint(health.bp)
    cli.init_app(app)
    cli_operations.init_app(app)
    portal.init_app(app)
    client_portal.init_app(app)  # after the portal: it shares its extensions and wraps its sessions
    openapi.init_app(app)
    return app
