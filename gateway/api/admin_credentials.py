"""Provider credentials over the admin API: write-only values, readable names (issue 12 §2)."""

from flask import Blueprint, g

from gateway.admin import credentials
from gateway.api import json_body, json_response
from gateway.api.admin import WRITE_ROLES, admin_required
from gateway.runtime import runtime

bp = Blueprint("admin_credentials_api", __name__, url_prefix="/api/v1/admin")
_SERVICE = "/services/<microservice>/<service>/<route>/credentials"
_ROUTE = "/clients/<app_id>/services/<microservice>/<service>/<route>/credentials"


def _key(microservice, service, route):
    return {"microservice": microservice, "service": service, "route": route}


@bp.get(_SERVICE)
@admin_required()
def service_credentials(microservice, service, route):
    """The names of a service's credentials (never their values) and those its template still misses."""
    return json_response(credentials.service_credentials(runtime(), _key(microservice, service, route)))


@bp.put(_SERVICE)
@admin_required(WRITE_ROLES)
def set_service_credentials(microservice, service, route):
    """Store a service's credentials, sealed (``{"values": {name: value | null}}``); answers the names only."""
    return json_response(credentials.set_service_credentials(runtime(), _key(microservice, service, route),
                                                             json_body(), g.user.username))


@bp.get(_ROUTE)
@admin_required()
def route_credentials(app_id, microservice, service, route):
    """The names a client's route overrides and inherits (never the values)."""
    return json_response(credentials.route_credentials(runtime(), app_id, _key(microservice, service, route)))


@bp.put(_ROUTE)
@admin_required(WRITE_ROLES)
def set_route_credentials(app_id, microservice, service, route):
    """Override credentials for one client's route, sealed; answers the names only."""
    return json_response(credentials.set_route_credentials(runtime(), app_id, _key(microservice, service, route),
                                                           json_body(), g.user.username))
