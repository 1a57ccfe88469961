"""A provider's response headers, parsed without the e-mail parser.

``http.client`` reads response headers with ``email.parser``, a general MIME parser
that is the largest single cost of a forward (13% of the switch's Python time in the
benchmark's profile, for a handful of header lines). HTTP headers need far less: one
``name: value`` per line. ``FastHeadersResponse`` is ``http.client.HTTPResponse`` with
its own ``begin`` code run against a ``parse_headers`` that splits the lines itself and
hands anything unusual (folded lines, a line without a colon, a body start instead of
headers) to the standard parser, so the result is always what ``http.client`` gives.
Nothing global is patched: only connections made by the forwarder use it.
"""

import http.client
import re
import types

_standard_parse_headers = http.client.parse_headers
_read_headers = getattr(http.client, "_read_headers", None)
_NAME = re.compile(r"[!-9;-~]+")  # the field names the e-mail parser takes: printable ASCII but ':'


def parse_headers(fp, _class=http.client.HTTPMessage):
    """The same ``HTTPMessage`` as ``http.client.parse_headers``, built line by line."""
    if _read_headers is None:  # a Python whose http.client differs: use it as it is
        return _standard_parse_headers(fp, _class)
    lines = _read_headers(fp)  # the limits http.client enforces (line length, header count) still apply
    message = _class()
    for raw in lines:
        if raw in (b"\r\n", b"\n"):  # the blank line that ends them
            break
        line = raw.decode("iso-8859-1")
        name, colon, value = line.partition(":")
        if not colon or not _NAME.fullmatch(name):  # folded, malformed or exotic: as the e-mail parser says
            return _standard(lines, _class)
        message[name] = value.lstrip(" \t").rstrip("\r\n")  # what email's compat32 policy keeps
    message.set_payload("")  # as the e-mail parser leaves it: nothing follows the headers here
    return message


def _standard(lines, _class):
    import email.parser
    return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))


class FastHeadersResponse(http.client.HTTPResponse):
    """``HTTPResponse`` whose ``begin`` (the standard code) parses headers with ``parse_headers`` above."""


if "parse_headers" in http.client.HTTPResponse.begin.__code__.co_names:
    _standard_begin = http.client.HTTPResponse.begin
    FastHeadersResponse.begin = types.FunctionType(
        _standard_begin.__code__, {**vars(http.client), "parse_headers": parse_headers},
        _standard_begin.__name__, _standard_begin.__defaults__, _standard_begin.__closure__)


class HTTPConnection(http.client.HTTPConnection):
    response_class = FastHeadersResponse


class HTTPSConnection(http.client.HTTPSConnection):
    response_class = FastHeadersResponse
