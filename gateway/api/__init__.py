"""HTTP surfaces: thin views that parse, call a service and serialise."""

import orjson
from flask import Response, request

from gateway.errors import UnsupportedMediaType
from gateway.jsondoc import parse_object, read_body


def json_response(body, status=200, headers=None):
    """A JSON response rendered with orjson."""
    response = Response(orjson.dumps(body, default=str), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_body(required=True):
    """The request's JSON object body (``{}`` when empty and not required)."""
    raw = read_body(request)
    if not raw and not required:
        return {}
    content_type = request.mimetype
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType()
    return parse_object(raw)
