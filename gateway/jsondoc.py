"""Parsing a JSON object from a request body, with the limits every endpoint shares."""

import orjson
from werkzeug.wsgi import get_content_length

from gateway.errors import BadRequest, MalformedJSON, NotAnObject, PayloadTooLarge, UnsupportedMediaType

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
    return _read_terminated(environ["wsgi.input"], limit)


def read_wsgi_body(environ, limit):
    """``read_body`` for a bare WSGI ``environ`` (the direct payment path, without Flask's request): the same
    limits and the same errors. The length is Werkzeug's reading of the headers (``get_content_length``): none for a
    chunked body even when a Content-Length comes with it (a cut body would be a message processed without its
    padding), 0 for one that is not a plain number."""
    length = get_content_length(environ)
    if length is not None:
        if limit is not None and length > limit:
            raise PayloadTooLarge()
        body = environ["wsgi.input"].read(length) if length else b""
        if len(body) < length:
            raise BadRequest("The body ended before its declared Content-Length.")
        return body
    if "wsgi.input_terminated" in environ:
        return _read_terminated(environ["wsgi.input"], limit)
    return b""  # WSGI: no length and no terminated input means no body


def _read_terminated(stream, limit):
    if limit is None:
        return stream.read()
    body = bytearray()
    while len(body) <= limit:
        chunk = stream.read(min(65536, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
    raise PayloadTooLarge(f"The body is larger than {limit} bytes.")


def parse_json_request(raw, mimetype, required=True):
    """The JSON object a request sent (``{}`` when empty and not required), or the precise 415/400."""
    if not raw and not required:
        return {}
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType()
    return parse_object(raw)


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
