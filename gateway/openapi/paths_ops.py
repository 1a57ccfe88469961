"""Paths of day-to-day operations: CSV exports, reconciliation against provider statements, alerts."""

from gateway.openapi.operations import ADMIN_SECURITY, errors, header_refs, operation, path_param
from gateway.openapi.paths_admin import READ_ERRORS, ROLES_NOTE

TAG = "Operations"


def query(name, description, example, schema=None):
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}, "example": example}


def csv_answer(description, example):
    """A streamed CSV answer (``text/csv``) with one example."""
    return {"description": description, "headers": header_refs(),
            "content": {"text/csv": {"schema": {"type": "string"}, "examples": {"csv": {"value": example}}}}}


def op(operation_id, summary, responses, description, *error_codes, request_body=None, parameters=None):
    """One operation of the Operations tag, admin-authenticated."""
    return operation(operation_id, TAG, summary, {**responses, **errors(*error_codes)}, ADMIN_SECURITY,
                     description=description, request_body=request_body, parameters=parameters)


def export_paths():
    """The admin API's CSV exports of the portal's lists."""
    name = path_param("name", "The list.", "deliveries",
                      {"enum": ["transactions", "api-logs", "audit", "deliveries"]})
    example = ("id,created_at,app_id,transaction_ref,unique_id,status,state,attempts,last_status,last_error,run_at,"
               "completed_at\r\n42,2026-12-01T09:12:03+00:00,akaliza,5f0c…,demo-0001,SUCCESS,dead,11,500,HTTP 500,"
               "2026-12-01T23:40:00+00:00,2026-12-01T23:40:00+00:00\r\n")
    return {"/api/v1/admin/exports/{name}": {"get": op(
        "exportList", "A filtered list as CSV, every matching row, streamed",
        {"200": csv_answer("The list's columns (header first), with the portal page's masking; a cell a spreadsheet "
                           "would run as a formula is written as text.", example)},
        ROLES_NOTE + " Filters as on the portal's pages: `transactions` `client`, `service`, `status`, `f010`, "
        "`from`, `to`; `api-logs` `client`, `status`, `from`, `to`; `audit` `actor`, `action`, `from`, `to`; "
        "`deliveries` `client`, `state`.", *READ_ERRORS,
        parameters=[name, query("client", "A client's App-ID.", "akaliza"),
                    query("from", "First day.", "2026-12-01", {"type": "string", "format": "date"}),
                    query("to", "Last day, included.", "2026-12-31", {"type": "string", "format": "date"}),
                    query("state", "`deliveries`: queued, done or dead.", "dead")])}}


def operations_paths():
    """Every path of the Operations tag."""
    return {**export_paths()}
