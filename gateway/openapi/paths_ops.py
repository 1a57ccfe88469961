"""Paths of day-to-day operations: CSV exports, reconciliation against provider statements, alerts."""

from gateway.openapi.operations import ADMIN_SECURITY, answer, errors, header_refs, operation, path_param
from gateway.openapi.paths_admin import ADMIN_ONLY, READ_ERRORS, ROLES_NOTE, WRITE_ERRORS

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


_OBJECT = {"type": "object"}
MAPPING = {"microservice": "mtnmomorwa", "columns": {"reference": "TxnRef", "amount": "Amt", "currency": "Ccy",
                                                     "status": "Result", "time": "Date"},
           "match_on": "ref", "statuses": {"PAID": "SUCCESS"}, "updated_by": "alice",
           "updated_at": "2026-12-01T08:00:00+00:00"}
FIGURES = {"lines": 100000, "ours_in_period": 100000, "discrepancies": 2999, "proposals": 1999,
           "outcomes": {"matched": 97001, "missing_at_provider": 600, "missing_at_switch": 500, "amount_mismatch": 100,
                        "currency_mismatch": 100, "state_mismatch": 2099, "duplicate": 100, "invalid_line": 100},
           "matched_amounts": [{"currency": "RWF", "amount": "53910200", "count": 97001}]}
RUN = {"id": 7, "microservice": "mtnmomorwa", "file_sha256": "9f86d081884c7d65…", "file_name": "mtn-2026-12-01.csv",
       "period_from": "2026-12-01", "period_to": "2026-12-01", "mapping": {k: MAPPING[k] for k in (
           "columns", "match_on", "statuses")}, "figures": FIGURES, "duration_ms": "2118.4", "created_by": "alice",
       "created_at": "2026-12-02T07:30:00+00:00"}
DISCREPANCY = {"id": 1, "kind": "state_mismatch", "line": 42, "reference": "5f0c…", "transaction_ref": "5f0c…",
               "unique_id": "demo-0042", "app_id": "akaliza", "our_status": "UNKNOWN", "their_status": "SUCCESS",
               "our_amount": "1500", "their_amount": "1500", "our_currency": "RWF", "their_currency": "RWF",
               "detail": "SUCCESSFUL", "resolution_id": 12}
_RUN_ID = path_param("run_id", "The run's id.", 7, {"type": "integer"})
_MICROSERVICE = path_param("microservice", "The provider (microservice).", "mtnmomorwa")
_RUN_NOTE = """\
The body is the provider's statement, `Content-Type: text/csv`, its first line a header (at most 40 columns; up to
`MOSPAY_MAX_STATEMENT_BYTES`, 64 MiB by default). The provider's mapping names the columns. The statement is
matched against the provider's payments of the period (`from`–`to`, default the days its time column names) in
SQL; outcomes: `matched`, `missing_at_provider` (we say SUCCESS, they have nothing), `missing_at_switch`,
`amount_mismatch`, `currency_mismatch`, `state_mismatch`, `duplicate`, `invalid_line`. A state mismatch where the
switch has `UNKNOWN` (or an overdue `PENDING`) and the provider `SUCCESS` or `FAILED` becomes a resolution
proposal by the uploader (see `/resolutions`): a second admin approves it. The same file for the same provider is
the same run: `200` with `replayed: true`, nothing counted or proposed twice. """ + ADMIN_ONLY


def reconciliation_paths():
    """Statement mappings, runs and their discrepancies."""
    run_answer = {**RUN, "discrepancies": [DISCREPANCY]}
    return {
        "/api/v1/admin/reconciliation/mappings/{microservice}": {
            "get": op("getStatementMapping", "A provider's statement columns",
                      {"200": answer(_OBJECT, {"mapping": MAPPING}, "The mapping (the defaults until one is saved).")},
                      ROLES_NOTE, "NOT_FOUND", *READ_ERRORS, parameters=[_MICROSERVICE]),
            "put": op("putStatementMapping", "Declare a provider's statement columns",
                      {"200": answer(_OBJECT, {"mapping": MAPPING}, "The saved mapping (audited).")},
                      ADMIN_ONLY + " `columns` maps `reference`, `amount`, `status` (required), `currency`, `time` to "
                      "header names; `match_on`: `ref` (our transaction reference), `provider_ref` or `unique_id` "
                      "(f010); `statuses`: provider words → `SUCCESS|FAILED|PENDING`, on top of the usual ones.",
                      "NOT_FOUND", *WRITE_ERRORS, parameters=[_MICROSERVICE], request_body={
                          "required": True, "content": {"application/json": {"schema": _OBJECT, "examples": {
                              "mapping": {"value": {k: MAPPING[k] for k in ("columns", "match_on", "statuses")}}}}}}),
        },
        "/api/v1/admin/reconciliation/runs": {
            "get": op("listReconciliationRuns", "Reconciliation runs, newest first",
                      {"200": answer(_OBJECT, {"runs": {"runs": [RUN]}}, "Runs with their figures.")},
                      ROLES_NOTE, "VALIDATION_ERROR", *READ_ERRORS,
                      parameters=[query("microservice", "Only this provider's.", "mtnmomorwa"),
                                  query("limit", "At most this many (500).", "20")]),
            "post": op("reconcileStatement", "Reconcile a provider's statement (CSV)",
                       {"201": answer(_OBJECT, {"run": {**RUN, "replayed": False}}, "The new run and its figures."),
                        "200": answer(_OBJECT, {"replayed": {**RUN, "replayed": True}},
                                      "This file was reconciled before: that run.")},
                       _RUN_NOTE, "NOT_FOUND", *WRITE_ERRORS,
                       parameters=[query("microservice", "The provider (required).", "mtnmomorwa"),
                                   query("from", "First day.", "2026-12-01", {"type": "string", "format": "date"}),
                                   query("to", "Last day, included.", "2026-12-01",
                                         {"type": "string", "format": "date"}),
                                   query("file_name", "The file's name, for the record.", "mtn-2026-12-01.csv")],
                       request_body={"required": True, "content": {"text/csv": {
                           "schema": {"type": "string"}, "examples": {"statement": {"value": (
                               "Date,TxnRef,Amt,Ccy,Result\r\n2026-12-01,5f0c…,1500,RWF,SUCCESSFUL\r\n")}}}}}),
        },
        "/api/v1/admin/reconciliation/runs/{run_id}": {"get": op(
            "getReconciliationRun", "One run, its figures and its first discrepancies",
            {"200": answer(_OBJECT, {"run": run_answer}, "The run; `discrepancies` in statement order per kind.")},
            ROLES_NOTE, "NOT_FOUND", "VALIDATION_ERROR", *READ_ERRORS,
            parameters=[_RUN_ID, query("kind", "Only this outcome.", "state_mismatch"),
                        query("limit", "At most this many (1000).", "100")])},
        "/api/v1/admin/reconciliation/runs/{run_id}/discrepancies.csv": {"get": op(
            "exportReconciliationDiscrepancies", "Every discrepancy of a run as CSV, streamed",
            {"200": csv_answer("One line per discrepancy (header first).",
                               "kind,line,reference,transaction_ref,unique_id,app_id,our_status,their_status,"
                               "our_amount,their_amount,our_currency,their_currency,detail,resolution_id\r\n"
                               "state_mismatch,42,5f0c…,5f0c…,demo-0042,akaliza,UNKNOWN,SUCCESS,1500,1500,RWF,RWF,"
                               "SUCCESSFUL,12\r\n")},
            ROLES_NOTE, "NOT_FOUND", "VALIDATION_ERROR", *READ_ERRORS,
            parameters=[_RUN_ID, query("kind", "Only this outcome.", "missing_at_provider")])},
    }


RULE = {"id": 3, "name": "akaliza failing", "kind": "success_rate", "params": {
    "scope": "client", "subject": "akaliza", "threshold_percent": 90, "minutes": 15, "min_count": 20},
    "webhook_url": "https://ops.example.com/mospay-alerts", "emails": ["ops@example.com"], "enabled": True,
    "created_by": "alice", "created_at": "2026-12-01T08:00:00+00:00", "updated_at": "2026-12-01T08:00:00+00:00"}
ALERT = {"id": 12, "rule_id": 3, "rule": "akaliza failing", "kind": "success_rate", "subject": "akaliza",
         "state": "open", "value": "62.5", "summary": "akaliza: success rate 62.5 % over 15 min (40 payments), "
         "below 90 %", "details": {"subject": "akaliza", "count": 40, "value": "62.5"},
         "opened_at": "2026-12-01T09:00:00+00:00", "updated_at": "2026-12-01T09:05:00+00:00", "resolved_at": None,
         "acknowledged_by": None, "acknowledged_at": None}
_RULE_NOTE = """\
Kinds and `params` (`subject`, optional: one App-ID, service `microservice/service/route` or provider; without it
each is watched apart): `success_rate` {scope: client|service, threshold_percent, minutes, min_count=10};
`unknown_age` {minutes, min_count=1}; `circuit_open` {minutes=5, threshold=MOSPAY_CIRCUIT_THRESHOLD} (the
provider's latest payments all failed to reach it); `latency_p99` {scope: switch|client|service, threshold_ms,
minutes, min_count=20}; `dead_callbacks` {min_count=1}; `reconciliation` {min_count=1} (the provider's latest
run); `default_partition` {min_count=1} (rows in a table's DEFAULT partition: partition maintenance is behind;
`subject` a table). `webhook_url` follows the client callback URL rules; `emails` need `MOSPAY_SMTP_HOST`. The webhook's
signing secret (`webhook_secret`) is in the creation answer only. """ + ADMIN_ONLY


def _json_body(example):
    return {"required": True, "content": {"application/json": {"schema": _OBJECT, "examples": {
        "example": {"value": example}}}}}


def alert_paths():
    """Alert rules and alerts."""
    rule_id = path_param("rule_id", "The rule's id.", 3, {"type": "integer"})
    alert_id = path_param("alert_id", "The alert's id.", 12, {"type": "integer"})
    create = {k: RULE[k] for k in ("name", "kind", "params", "webhook_url", "emails")}
    return {
        "/api/v1/admin/alerts/rules": {
            "get": op("listAlertRules", "Every alert rule",
                      {"200": answer(_OBJECT, {"rules": {"rules": [{**RULE, "open_alerts": 1}]}},
                                     "Rules (never a secret), with their open alerts.")}, ROLES_NOTE, *READ_ERRORS),
            "post": op("createAlertRule", "Create an alert rule",
                       {"201": answer(_OBJECT, {"rule": {**RULE, "webhook_secret": "whsec_…"}},
                                      "The rule; `webhook_secret` shown once.")},
                       _RULE_NOTE, "ALREADY_EXISTS", *WRITE_ERRORS, request_body=_json_body(create)),
        },
        "/api/v1/admin/alerts/rules/{rule_id}": {
            "patch": op("updateAlertRule", "Change a rule's params, webhook URL, e-mails or enabled flag",
                        {"200": answer(_OBJECT, {"rule": {**RULE, "enabled": False}}, "The rule now (audited).")},
                        ADMIN_ONLY + " A disabled rule's open alerts resolve at the next evaluation. A rule's first "
                        "`webhook_url` comes with its signing secret (`webhook_secret`, in this answer only).",
                        "NOT_FOUND",
                        *WRITE_ERRORS, parameters=[rule_id], request_body=_json_body({"enabled": False})),
            "delete": op("deleteAlertRule", "Delete a rule and its alerts",
                         {"200": answer(_OBJECT, {"deleted": {"id": 3, "deleted": True}}, "Gone (audited).")},
                         ADMIN_ONLY, "NOT_FOUND", *READ_ERRORS, parameters=[rule_id]),
        },
        "/api/v1/admin/alerts/rules/{rule_id}/webhook-secret": {"post": op(
            "rotateAlertWebhookSecret", "A new signing secret for a rule's webhook",
            {"200": answer(_OBJECT, {"rule": {**RULE, "webhook_secret": "whsec_…"}},
                           "The rule; `webhook_secret` in this answer only (the old one stops at once).")},
            ADMIN_ONLY, "NOT_FOUND", "VALIDATION_ERROR", *READ_ERRORS, parameters=[rule_id])},
        "/api/v1/admin/alerts": {"get": op(
            "listAlerts", "Alerts, newest first",
            {"200": answer(_OBJECT, {"alerts": {"alerts": [ALERT]}}, "Open and resolved alerts.")},
            ROLES_NOTE + " The worker evaluates the rules every `MOSPAY_ALERT_EVERY_SECONDS` (60): an alert opens "
            "once, updates while its condition holds, resolves by itself when it clears.", "VALIDATION_ERROR",
            *READ_ERRORS, parameters=[query("state", "open or resolved.", "open", {"enum": ["open", "resolved"]}),
                                      query("limit", "At most this many (500).", "100")])},
        "/api/v1/admin/alerts/{alert_id}": {"get": op(
            "getAlert", "One alert and its history",
            {"200": answer(_OBJECT, {"alert": {**ALERT, "events": [
                {"id": 1, "event": "opened", "actor": None, "value": "62.5", "summary": ALERT["summary"],
                 "at": "2026-12-01T09:00:00+00:00"}]}}, "The alert; `events`: opened, updated, resolved, "
                                                        "acknowledged.")},
            ROLES_NOTE, "NOT_FOUND", *READ_ERRORS, parameters=[alert_id])},
        "/api/v1/admin/alerts/{alert_id}/acknowledge": {"post": op(
            "acknowledgeAlert", "Acknowledge an alert",
            {"200": answer(_OBJECT, {"alert": {**ALERT, "acknowledged_by": "alice",
                                               "acknowledged_at": "2026-12-01T09:07:00+00:00", "events": []}},
                           "The alert (in its history and the audit log).")},
            ADMIN_ONLY + " `409 CONFLICT` when it already is.", "NOT_FOUND", "CONFLICT", *READ_ERRORS,
            parameters=[alert_id])},
    }


def operations_paths():
    """Every path of the Operations tag."""
    return {**export_paths(), **reconciliation_paths(), **alert_paths()}
