"""Paths of the DBA workbench: /api/v1/admin/functions/…"""

from gateway.openapi import examples as ex
from gateway.openapi.operations import ADMIN_SECURITY, answer, body, errors, operation, path_param
from gateway.openapi.paths_admin import READ_ERRORS, WRITE_ERRORS

TAG = "DBA workbench"
BASE = "/api/v1/admin/functions"
EDIT_ROLES = "Roles: `admin`, `dba`."
READ_ROLES = "Roles: any of `admin`, `dba`, `viewer`."
NAME = path_param("name", "The generated function's name (schema `mospay_fn`).", ex.REQUEST_FUNCTION)
VERSION = path_param("version", "A recorded version.", 2, {"type": "integer", "minimum": 1})
EX = ex.FUNCTIONS


def _op(operation_id, summary, schema, example, description, *codes, request_body=None, parameters=(NAME,)):
    responses = {"200": answer(schema, {"example": example}, summary), **errors(*codes)}
    return operation(operation_id, TAG, summary, responses, ADMIN_SECURITY, description=description,
                     request_body=request_body, parameters=list(parameters))


def _edit(operation_id, summary, schema, example, description, *codes, request_body=None):
    return _op(operation_id, summary, schema, example, f"{EDIT_ROLES} {description}", "NOT_FOUND",
               *codes, *WRITE_ERRORS, request_body=request_body)


def function_paths():
    """Read, edit, version, diff, roll back, record drift, regenerate and test-run client functions."""
    diff_params = [NAME, *({"name": bound, "in": "query", "required": True, "description": f"Version {word}.",
                            "schema": {"type": "integer"}, "example": value}
                           for bound, word, value in (("from", "before", 1), ("to", "after", 2)))]
    return {
        BASE: {"get": _op("listFunctions", "Every generated function with its drift state", "FunctionList",
                          EX["list"], READ_ROLES + " `drift`: `in_step`, `drifted` (edited in psql) or `missing`.",
                          *READ_ERRORS, parameters=())},
        f"{BASE}/{{name}}": {
            "get": _op("getFunction", "A function's live source, version and drift state", "FunctionDetail",
                       EX["detail"], READ_ROLES, "NOT_FOUND", *READ_ERRORS),
            "put": _edit("saveFunction", "Check and apply a new source as the next version", "FunctionSaved",
                         EX["saved"], "PostgreSQL checks the source inside a transaction; a refusal "
                         "(`FUNCTION_REFUSED`) names its line and leaves the live function untouched. The "
                         "signature must stay, `SECURITY DEFINER` is refused.", "FUNCTION_REFUSED",
                         request_body=body("FunctionSource", EX["source"])),
        },
        f"{BASE}/{{name}}/versions": {"get": _op(
            "listFunctionVersions", "Every version, newest first", "FunctionVersions", EX["versions"], READ_ROLES,
            "NOT_FOUND", *READ_ERRORS)},
        f"{BASE}/{{name}}/versions/{{version}}": {"get": _op(
            "getFunctionVersion", "One version's source", "FunctionVersion", EX["version"], READ_ROLES,
            "NOT_FOUND", *READ_ERRORS, parameters=(NAME, VERSION))},
        f"{BASE}/{{name}}/diff": {"get": _op(
            "diffFunctionVersions", "Unified diff between two versions", "FunctionDiff", EX["diff"], READ_ROLES,
            "VALIDATION_ERROR", "NOT_FOUND", *READ_ERRORS, parameters=diff_params)},
        f"{BASE}/{{name}}/rollback": {"post": _edit(
            "rollbackFunction", "Apply an earlier version again (as a new version)", "FunctionSaved", EX["saved"],
            "", "FUNCTION_REFUSED", request_body=body("Rollback", EX["rollback"]))},
        f"{BASE}/{{name}}/record-drift": {"post": _op(
            "recordFunctionDrift", "Record a function edited outside the switch as a new version", "DriftRecorded",
            EX["drift"], EDIT_ROLES + " `recorded: false` when it was in step.", "FUNCTION_REFUSED", "NOT_FOUND",
            *READ_ERRORS)},
        f"{BASE}/{{name}}/regenerate": {"post": _edit(
            "regenerateFunction", "Render the function from its template again", "FunctionSaved", EX["saved"],
            "A customised function is not overwritten (`409 FUNCTION_CUSTOMISED`) unless `force` is true.",
            "FUNCTION_CUSTOMISED", "FUNCTION_REFUSED",
            request_body={**body("Regenerate", EX["regenerate"]), "required": False})},
        f"{BASE}/{{name}}/test": {"post": _edit(
            "testRunFunction", "Run the function on a sample; nothing is forwarded or recorded", "TestRunResult",
            EX["test_result"], "Runs in the sandbox, rolled back; `ok` says whether the result is a valid call "
            "spec (request function) or answer (response function).",
            request_body=body("TestRunInput", EX["test_input"]))},
    }
