"""Small builders for operations: bodies, answers and the error responses each one can give."""

from http import HTTPStatus

from gateway.openapi.examples import error_example
from gateway.openapi.schemas import error_catalogue, ref

JSON = "application/json"
CLIENT_SECURITY = [{"basicAuth": [], "appId": []}, {"clientBearer": [], "appId": []}]
ADMIN_SECURITY = [{"adminBearer": []}]
RETRY_AFTER_CODES = {"IN_PROGRESS", "RATE_LIMITED", "TOO_MANY_ATTEMPTS", "DATABASE_UNAVAILABLE",
                     "UPSTREAM_CIRCUIT_OPEN", "NOT_READY", "NOT_CONFIRMED"}
HEADERS = {
    "X-Request-ID": {"description": "The caller's request id when sane, else a new one; also on every log line.",
                     "schema": {"type": "string"}},
    "Server-Timing": {"description": "Milliseconds spent in each stage (validate, claim, request_function, "
                                     "forward, response_function, total).",
                      "schema": {"type": "string"}, "example": "validate;dur=0.41, claim;dur=2.3, total;dur=41.7"},
    "Idempotent-Replayed": {"description": "`true` when this is the stored answer of an earlier identical request.",
                            "schema": {"const": "true"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "string"},
                    "example": "1"},
    "WWW-Authenticate": {"description": "`Basic realm=\"mospay\"` or `Bearer`.", "schema": {"type": "string"}},
}


def header_refs(*names):
    """Response ``headers`` referencing the shared header components."""
    return {name: {"$ref": f"#/components/headers/{name}"} for name in ("X-Request-ID", *names)}


def body(schema_name, example, description=None, required=True):
    """A JSON request body of a component schema with one example."""
    content = {JSON: {"schema": ref(schema_name), "examples": {"example": {"value": example}}}}
    return {"required": required, "content": content, **({"description": description} if description else {})}


def answer(schema, examples, description, headers=()):
    """A JSON answer; ``examples`` is ``{name: value}``; ``schema`` a component name or a schema."""
    return {
        "description": description,
        "headers": header_refs(*headers),
        "content": {JSON: {"schema": ref(schema) if isinstance(schema, str) else schema,
                           "examples": {name: {"value": value} for name, value in examples.items()}}},
    }


def errors(*codes):
    """Responses for every HTTP status among ``codes``, each with an example per code."""
    catalogue = error_catalogue()
    by_status = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(catalogue[code][0], []).append(code)
    responses = {}
    for status, status_codes in sorted(by_status.items()):
        headers = ["Retry-After"] if RETRY_AFTER_CODES & set(status_codes) else []
        if status == 401:
            headers.append("WWW-Authenticate")
        responses[str(status)] = {
            "description": f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{c}`" for c in status_codes),
            "headers": header_refs(*headers),
            "content": {JSON: {"schema": ref("Error"),
                               "examples": {code: {"value": error_example(code)} for code in status_codes}}},
        }
    return responses


def operation(operation_id, tag, summary, responses, security, description=None, request_body=None,
              parameters=None):
    """One operation object."""
    op = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request_body:
        op["requestBody"] = request_body
    op["responses"] = dict(sorted(responses.items()))
    op["security"] = security
    return op


def path_param(name, description, example, schema=None):
    """A required path parameter."""
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string"}, "example": example}
