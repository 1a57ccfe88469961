"""Checks that an answer is what the OpenAPI description documents."""

from gateway.hot_path.fields import FieldValidator


def validator(spec, schema):
    """A validator of ``schema`` whose ``#/components/...`` references resolve in the document."""
    return FieldValidator({**schema, "components": spec["components"]}, format_checker=FieldValidator.FORMAT_CHECKER)


def check(spec, path, method, response):
    """``response`` has a documented status and its JSON body fits the documented schema; returns the body."""
    responses = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, f"{method} {path} answered {response.status_code}: {response.text}"
    media = responses[str(response.status_code)]["content"]["application/json"]
    errors = [e.message for e in validator(spec, media["schema"]).iter_errors(response.json())]
    assert errors == [], f"{method} {path} {response.status_code}: {response.text}"
    assert response.headers.get("X-Request-ID")
    return response.json()
