"""Parsing a JSON object from a request body, with the limits every endpoint shares."""

import orjson

from gateway.errors import BadRequest, MalformedJSON, NotAnObject

MAX_DEPTH = 32  # f000–f010 messages are flat; nothing legitimate nests this deep


def parse_object(raw):
    """The JSON object in ``raw``, or the precise 400 (malformed, not an object, nested too deeply)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedJSON() from None
    if not isinstance(value, dict):
        raise NotAnObject()
    _check_depth(value)
    return value


def _check_depth(value):
    # Iterative, so a hostile document cannot exhaust the stack; the store (jsonb) has its own limits too.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"The JSON nests deeper than {MAX_DEPTH} levels.")
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
