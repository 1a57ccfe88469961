"""Serving the WSGI app on granian so that slow clients never hold a payment thread.

granian (Rust, hyper) reads and parses HTTP in native code. Its own WSGI interface hands Python the request
as soon as the headers are in, and ``wsgi.input`` then waits on the socket inside a Python thread: a client
trickling its body holds that thread. Here the app is served through granian's RSGI interface instead: the
whole body is read on the worker's event loop (no thread held, ``BODY_TIMEOUT_SECONDS`` to finish it), and
only a complete request goes to the pool of ``THREADS`` threads that runs Flask. Headers have granian's own
read timeout; idle keep-alive connections cost the event loop nothing.
"""

import asyncio
import io
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson

log = logging.getLogger("mospay.serving")
# Uploads of provider statements (reconciliation) may be far bigger than a payment: they get their own limit.
STATEMENT_UPLOAD_PATHS = ("/api/v1/admin/reconciliation/runs", "/portal/reconciliation/runs")


class BufferedWSGI:
    """An RSGI application that runs a WSGI app on complete requests only, in a pool of threads."""

    def __init__(self, wsgi_app, threads, max_body_bytes, body_timeout_seconds, on_start=None, on_stop=None,
                 max_statement_bytes=None):
        self.wsgi_app = wsgi_app
        self.threads = threads
        self.max_body_bytes = max_body_bytes
        self.max_statement_bytes = max_statement_bytes or max_body_bytes
        self.body_timeout = body_timeout_seconds
        self.on_start, self.on_stop = on_start, on_stop
        self.pool = None

    def __rsgi_init__(self, loop):
        """In each worker before it serves: the thread pool, then the app's own start (pools, route listener)."""
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="request")
        if self.on_start is not None:
            self.on_start()

    def __rsgi_del__(self, loop):
        """In each worker as it stops: finish the requests in hand, then the app's own stop."""
        self.pool.shutdown(wait=True)
        if self.on_stop is not None:
            self.on_stop()

    async def __rsgi__(self, scope, protocol):
        """One request: its body in full (or 408), then the WSGI app on a thread, then the answer."""
        if scope.proto != "http":
            return
        declared = scope.headers.get("content-length")
        if declared is not None and "chunked" in scope.headers.get("transfer-encoding", "").lower():
            declared = None  # RFC 9112 §6.3: a chunked body's length is its chunks', whatever Content-Length says
        try:
            limit = self.max_statement_bytes if scope.path in STATEMENT_UPLOAD_PATHS else self.max_body_bytes
            async with asyncio.timeout(self.body_timeout):  # no task of its own, as wait_for would make
                body = await self._read_body(protocol, declared, limit)
        except TimeoutError:
            protocol.response_bytes(408, [("content-type", "application/json"), ("connection", "close")],
                                    _error("REQUEST_TIMEOUT", f"The body was not sent within {self.body_timeout:g} s."))
            return
        environ = self._environ(scope, body, declared)
        loop = asyncio.get_running_loop()
        head = loop.create_future()
        # The thread resolves ``head`` without waiting for this loop: an answer costs one wake-up of the loop.
        self.pool.submit(self._call, environ, loop, head)
        status, headers, content, stream = await head
        if stream is None:  # the usual answer: one piece, sent whole
            protocol.response_bytes(status, headers, content)
            return
        chunks, abandoned = stream
        # A streamed answer (a CSV export): sent as the app yields it, so it is never whole in memory.
        transport = protocol.response_stream(status, headers)
        try:
            await transport.send_bytes(content)
            while (chunk := await chunks.get()) is not None:
                await transport.send_bytes(chunk)
        except Exception:  # noqa: BLE001 - the client went away: stop the app's iterator, free its thread
            abandoned.set()
            while await chunks.get() is not None:
                pass

    async def _read_body(self, protocol, declared, limit):
        """The body in full, up to one byte past ``limit`` (the app answers 413 for that, in its own shape)."""
        if declared is not None and declared.isascii() and declared.isdigit():
            if int(declared) > limit:
                return b""  # refused by the app from its Content-Length before any byte is read
            # Framed by its Content-Length (no more can come): granian reads it whole, in one await.
            try:
                return await protocol()
            except Exception:  # noqa: BLE001 - the client hung up before its Content-Length: the app answers 400
                return b""
        body = bytearray()
        async for chunk in protocol:
            body += chunk
            if len(body) > limit:
                return bytes(body[: limit + 1])
        return bytes(body)

    @staticmethod
    def _environ(scope, body, declared):
        server_host, _, server_port = scope.server.rpartition(":")
        client_host = scope.client.rpartition(":")[0].strip("[]")
        environ = {
            "REQUEST_METHOD": scope.method, "SCRIPT_NAME": "",
            "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"), "QUERY_STRING": scope.query_string,
            "SERVER_NAME": server_host.strip("[]"), "SERVER_PORT": server_port, "REMOTE_ADDR": client_host,
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}", "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.scheme, "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        for name, value in scope.headers.items():
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name != "content-length":
                key = "HTTP_" + name.upper().replace("-", "_")
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        if declared is not None:
            environ["CONTENT_LENGTH"] = declared
        else:  # chunked (or no body): the input ends where the body does
            environ["wsgi.input_terminated"] = True
        return environ

    def _call(self, environ, loop, head):
        """Run the WSGI app on one request, on this one thread from start to end (a streamed response keeps its
        request context): resolve ``head`` with ``(status, headers, first bytes, stream)``; ``stream`` is ``None``
        for a one-piece answer, else ``(chunks, abandoned)``: each further piece and then ``None`` go on
        ``chunks``, made here only for a streamed answer (most are one piece)."""
        started = []
        chunks = abandoned = None

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return _no_write

        def put(item):
            asyncio.run_coroutine_threadsafe(chunks.put(item), loop).result()

        result, head_sent, streaming = None, False, False
        try:
            result = self.wsgi_app(environ, start_response)
            pieces = iter(result)
            first, second = next(pieces, b""), next(pieces, None)
            status, headers = started
            streaming = second is not None
            if streaming:
                chunks, abandoned = asyncio.Queue(maxsize=8), threading.Event()
            loop.call_soon_threadsafe(_resolve, head, (int(status[:3]), [(str(k), str(v)) for k, v in headers],
                                                       first + (second or b""),
                                                       (chunks, abandoned) if streaming else None))
            head_sent = True
            for piece in pieces if streaming else ():
                if abandoned.is_set():
                    break
                put(piece)
        except Exception:  # noqa: BLE001 - Flask answers its own errors; this is a failure past them
            log.exception("the app failed while answering %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            if not head_sent:
                streaming = False
                loop.call_soon_threadsafe(_resolve, head, (500, [("content-type", "application/json")],
                                          _error("INTERNAL_ERROR", "The switch could not complete the request."),
                                          None))
        finally:
            if streaming:
                put(None)  # the end of a streamed answer, however it ended
            if result is not None and hasattr(result, "close"):
                result.close()


def _resolve(future, item):
    if not future.done():  # the request may have been cancelled (the client went away)
        future.set_result(item)


def _no_write(data):
    raise RuntimeError("the write() callable of start_response is not supported; return an iterable")


def _error(code, message):
    return orjson.dumps({"error": {"code": code, "message": message}})


def load_switch(target=None):
    """granian's loader, run in each worker process: a fresh app, wrapped; its runtime starts with the worker."""
    from config import Config
    from gateway import create_app

    config = Config()
    app = create_app(config)
    rt = app.extensions["mospay"]
    return BufferedWSGI(app, config.THREADS, config.MAX_BODY_BYTES, config.BODY_TIMEOUT_SECONDS,
                        on_start=rt.start, on_stop=rt.stop, max_statement_bytes=config.MAX_STATEMENT_BYTES)


def serve(config, on_stop=None):
    """Serve on ``HOST``:``PORT`` with ``WORKERS`` granian worker processes until SIGTERM/SIGINT.

    ``on_stop`` runs as soon as a stop signal arrives, before the workers finish (the background worker stops
    alongside them). A worker that dies is started again.
    """
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    class SwitchServer(Server):
        def signal_handler_interrupt(self, *args, **kwargs):
            if on_stop is not None:
                on_stop()
            super().signal_handler_interrupt(*args, **kwargs)

    header_timeout_ms = min(int(config.BODY_TIMEOUT_SECONDS * 1000), 60_000)
    server = SwitchServer("mospay", address=config.HOST, port=config.PORT, interface=Interfaces.RSGI,
                          workers=config.WORKERS, websockets=False, respawn_failed_workers=True, respawn_interval=0.5,
                          workers_kill_timeout=30, http1_settings=HTTP1Settings(header_read_timeout=header_timeout_ms),
                          log_access=False)
    server.serve(target_loader=load_switch)
