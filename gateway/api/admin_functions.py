"""The DBA workbench over the admin API: /api/v1/admin/functions/…"""

from flask import Blueprint, g, request

from gateway.admin.roles import FUNCTION_ROLES
from gateway.api import json_body, json_response
from gateway.api.admin import admin_required
from gateway.errors import ValidationFailed
from gateway.functions import workbench
from gateway.runtime import runtime

bp = Blueprint("admin_functions_api", __name__, url_prefix="/api/v1/admin/functions")


@bp.get("")
@admin_required()
def list_functions():
    """Every generated function with its drift state."""
    return json_response({"functions": workbench.list_functions(runtime())})


@bp.get("/<name>")
@admin_required()
def get_function(name):
    """A function's live source, version and drift state."""
    return json_response(workbench.get_function(runtime(), name))


@bp.put("/<name>")
@admin_required(FUNCTION_ROLES)
def save_function(name):
    """Check and apply a new source as the next version."""
    body = json_body()
    return json_response(workbench.save(runtime(), name, body.get("source"), g.user.username, _note(body)))


@bp.get("/<name>/versions")
@admin_required()
def list_versions(name):
    """Every version, newest first."""
    return json_response({"name": name, "versions": workbench.versions(runtime(), name)})


@bp.get("/<name>/versions/<int:version>")
@admin_required()
def get_version(name, version):
    """One version's source."""
    return json_response(workbench.version_source(runtime(), name, version))


@bp.get("/<name>/diff")
@admin_required()
def diff(name):
    """Unified diff between ?from=N and ?to=M."""
    try:
        old, new = int(request.args["from"]), int(request.args["to"])
    except (KeyError, ValueError):
        raise ValidationFailed(details={"from": "versions are integers", "to": "versions are integers"}) from None
    return json_response({"diff": workbench.diff_versions(runtime(), name, old, new)})


@bp.post("/<name>/rollback")
@admin_required(FUNCTION_ROLES)
def rollback(name):
    """Apply an earlier version again."""
    version = json_body().get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationFailed(details={"version": "must be an integer"})
    return json_response(workbench.rollback(runtime(), name, version, g.user.username))


@bp.post("/<name>/record-drift")
@admin_required(FUNCTION_ROLES)
def record_drift(name):
    """Record a function edited outside the switch as a new version."""
    return json_response(workbench.record_drift(runtime(), name, g.user.username))


@bp.post("/<name>/regenerate")
@admin_required(FUNCTION_ROLES)
def regenerate(name):
    """Render the template again; {"force": true} to overwrite a customised function."""
    return json_response(workbench.regenerate(runtime(), name, g.user.username,
                                              force=json_body(required=False).get("force") is True))


@bp.post("/<name>/test")
@admin_required(FUNCTION_ROLES)
def test_run(name):
    """Run the function on a sample; nothing is forwarded or recorded."""
    body = json_body()
    return json_response(workbench.test_run(runtime(), name, body.get("request"), body.get("response")))


def _note(body):
    note = body.get("note")
    return note[:200] if isinstance(note, str) else None
