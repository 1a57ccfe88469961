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

import functools
import http.client
import io
import re
import time
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
    """``HTTPResponse`` whose ``begin`` (the standard code) parses headers with ``parse_headers`` above, skips
    every interim (1xx) answer but a protocol switch, and reads nothing past ``deadline``."""

    def __init__(self, sock, debuglevel=0, method=None, url=None, deadline=None):
        super().__init__(sock, debuglevel, method, url)
        if deadline is not None:  # each read waits only what is left: a trickle cannot stretch the call
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))

    def begin(self):
        _begin(self)
        while 100 < self.status < 200 and self.status != 101:  # 102, 103: the answer follows (http.client skips 100)
            self.headers = self.msg = None
            _begin(self)


_begin = http.client.HTTPResponse.begin
if "parse_headers" in _begin.__code__.co_names:
    _begin = types.FunctionType(_begin.__code__, {**vars(http.client), "parse_headers": parse_headers},
                                _begin.__name__, _begin.__defaults__, _begin.__closure__)


class _DeadlineReader(io.RawIOBase):
    """The response's socket reader (which keeps the socket open until the response is closed, as http.client
    expects) with each read's timeout set to what is left before ``deadline``."""

    def __init__(self, raw, sock, deadline):
        self.raw, self.sock, self.deadline = raw, sock, deadline

    def readable(self):
        return True

    def close(self):
        super().close()
        self.raw.close()

    def readinto(self, buffer):
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("the answer's deadline passed")
        self.sock.settimeout(left)
        return self.raw.readinto(buffer)


class _Deadline:
    deadline = None  # time.perf_counter() by which the whole answer must have arrived, set per call

    @property
    def response_class(self):
        return functools.partial(FastHeadersResponse, deadline=self.deadline)


class HTTPConnection(_Deadline, http.client.HTTPConnection):
    pass


class HTTPSConnection(_Deadline, http.client.HTTPSConnection):
    pass
