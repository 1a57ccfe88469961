"""HTTP surfaces: thin views that parse, call a service and serialise."""

import orjson
from flask import Response, request

from gateway.jsondoc import parse_json_request, read_body


def json_response(body, status=200, headers=None):
    """A JSON response rendered with orjson."""
    response = Response(orjson.dumps(body, default=str), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_body(required=True):
    """The request's JSON object body (``{}`` when empty and not required)."""
    return parse_json_request(read_body(request), request.mimetype, required)
