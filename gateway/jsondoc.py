"""Parsing a JSON object from a request body, with the limits every endpoint shares."""

import orjson

from gateway.errors import BadRequest, MalformedJSON, NotAnObject, PayloadTooLarge

MAX_DEPTH = 32  # f000–f010 messages are flat; nothing legitimate nests this deep


def read_body(request):
    """The request's body in full, or ``PayloadTooLarge`` past ``MAX_CONTENT_LENGTH``: never a cut body.

    A declared ``Content-Length`` over the limit is refused by Werkzeug before any byte is read. A chunked
    body has no length: Werkzeug's stream stops reading at the limit and hands back the first part as if it
    were all, so a message followed by padding was processed. Here such a body is read from the server's
    terminated input (Werkzeug's server and ``gateway/serving.py`` both set ``wsgi.input_terminated``) to one
    byte past the limit, and refused if it gets there.
    """
    limit = request.max_content_length
    environ = request.environ
    if limit is None or request.content_length is not None or "wsgi.input_terminated" not in environ:
        return request.get_data(cache=False)
    body = bytearray()
    while len(body) <= limit:
        chunk = environ["wsgi.input"].read(min(65536, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
    raise PayloadTooLarge(f"The body is larger than {limit} bytes.")


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
