"""Paths of the admin API's traffic lists (transactions, API logs, audit log), paged by keyset."""

from gateway.openapi import examples as ex
from gateway.openapi.operations import ADMIN_SECURITY, answer, errors, operation
from gateway.openapi.paths_admin import READ_ERRORS, ROLES_NOTE

TAG = "Reports"
_PAGING = (ROLES_NOTE + " Newest first, by keyset: `next_cursor` goes to older rows (`?after=`), `prev_cursor` "
           "to newer ones (`?before=`); a page costs the same at any depth. `total` counts every matching row "
           "up to 1,000; beyond that it is null and `total_more_than` says 1000.")


def _query(name, description, example, schema=None):
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}, "example": example}


_COMMON = [
    _query("from", "Created on or after this day (YYYY-MM-DD).", "2025-01-01", {"type": "string", "format": "date"}),
    _query("to", "Created on or before this day.", "2025-01-31", {"type": "string", "format": "date"}),
    _query("limit", "Rows per page (1–200, default 25).", 25, {"type": "integer"}),
    _query("after", "`next_cursor` of the previous answer: older rows.", ex.PAGE["next_cursor"]),
    _query("before", "`prev_cursor` of a page: newer rows.", ex.PAGE["next_cursor"]),
]


def _list(operation_id, summary, schema, example, parameters):
    return {"get": operation(operation_id, TAG, summary,
                             {"200": answer(schema, {"page": example}, summary),
                              **errors("VALIDATION_ERROR", *READ_ERRORS)},
                             ADMIN_SECURITY, description=_PAGING, parameters=[*parameters, *_COMMON])}


def list_paths():
    """The admin API's lists of transactions, API log rows and audit entries."""
    return {
        "/api/v1/admin/transactions": _list("listTransactions", "Transactions, newest first", "TransactionList",
                                            ex.LISTS["transactions"], [
            _query("client", "Only this client's (App-ID).", ex.APP_ID),
            _query("service", "Only this route: microservice/service/route.", "mtnmomorwa/collection/payment"),
            _query("status", "Only payments in this state.", "SUCCESS"),
            _query("f010", "The payment with this unique id.", ex.UNIQUE_ID),
            _query("ref", "The payment with this transaction reference.", ex.REF)]),
        "/api/v1/admin/api-logs": _list("listApiLogs", "API log rows, newest first", "ApiLogList",
                                        ex.LISTS["api_logs"], [
            _query("client", "Only this client's (App-ID).", ex.APP_ID),
            _query("status", "Only answers with this HTTP status.", 502, {"type": "integer"})]),
        "/api/v1/admin/audit": _list("listAudit", "The audit log, newest first", "AuditList", ex.LISTS["audit"], [
            _query("actor", "Only this user's actions.", "admin"),
            _query("action", "Only this action and its sub-actions.", "client")]),
    }
