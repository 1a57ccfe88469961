"""The buffering adapter between granian and Flask: whole requests in, answers out whole or streamed."""

import asyncio
import threading

from gateway.serving import BufferedWSGI


class Scope:
    proto, http_version, scheme, method, path, query_string = "http", "1.1", "http", "GET", "/x", ""
    server, client = "127.0.0.1:5000", "127.0.0.1:40000"

    def __init__(self, headers=None, path="/x"):
        self.headers = headers or {}
        self.path = path


class Protocol:
    """What granian hands the app: the body's chunks, and ways to answer (recorded)."""

    def __init__(self, body=b"", fail_after=None, hang_up=False):
        self.body, self.sent, self.fail_after, self.hang_up = body, [], fail_after, hang_up
        self.answer = None

    async def __call__(self):  # the whole body at once (granian: framed by its Content-Length)
        if self.hang_up:
            raise ConnectionError("the client hung up before its Content-Length")  # as granian reports it
        return self.body

    def __aiter__(self):
        async def chunks():
            if self.body:
                yield self.body
        return chunks()

    def response_bytes(self, status, headers, body):
        self.answer = ("bytes", status, body)

    def response_stream(self, status, headers):
        self.answer = ("stream", status)
        protocol = self

        class Transport:
            async def send_bytes(self, data):
                if protocol.fail_after is not None and len(protocol.sent) >= protocol.fail_after:
                    raise ConnectionResetError("client went away")
                protocol.sent.append(data)
        return Transport()


def serve(app, protocol, headers=None, path="/x"):
    """One request through the adapter, on an event loop of its own (in a thread: the browser tests' sync
    Playwright keeps a loop running on the main thread)."""
    adapter = BufferedWSGI(app, threads=2, max_body_bytes=1024, body_timeout_seconds=2, max_statement_bytes=8192)
    adapter.__rsgi_init__(None)
    failures = []

    def run():
        try:
            asyncio.run(adapter.__rsgi__(Scope(headers, path), protocol))
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(error)

    try:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(30)
    finally:
        adapter.__rsgi_del__(None)
    if failures:
        raise failures[0]
    return protocol


def test_a_one_piece_answer_is_sent_whole():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    assert serve(app, Protocol()).answer == ("bytes", 200, b"hello")


def test_a_generated_answer_is_streamed_piece_by_piece():
    produced = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])

        def rows():
            for n in range(100):
                produced.append(n)
                yield f"{n}\n".encode()
        return rows()

    protocol = serve(app, Protocol())

    assert protocol.answer == ("stream", 200)
    assert b"".join(protocol.sent) == b"".join(f"{n}\n".encode() for n in range(100))
    assert len(protocol.sent) > 50  # sent as produced, not joined first


def test_a_client_that_goes_away_stops_the_generator_and_frees_the_thread():
    produced, closed = [], []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])

        def rows():
            try:
                for n in range(10_000):
                    produced.append(n)
                    yield b"row\n"
            finally:
                closed.append(True)
        return rows()

    serve(app, Protocol(fail_after=3))

    assert closed == [True] and len(produced) < 10_000


def test_an_app_that_fails_past_flask_answers_500_in_the_error_shape():
    def app(environ, start_response):
        raise RuntimeError("boom")

    protocol = serve(app, Protocol())

    assert protocol.answer[:2] == ("bytes", 500) and b"INTERNAL_ERROR" in protocol.answer[2]


def test_a_statement_upload_may_be_bigger_than_a_payment_and_only_it():
    """Reconciliation uploads have a limit of their own; any other path keeps the small one."""
    received = {}

    def app(environ, start_response):
        received[environ["PATH_INFO"]] = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    statement = b"x" * 5000
    serve(app, Protocol(statement), path="/api/v1/admin/reconciliation/runs")
    serve(app, Protocol(statement), path="/api/v1/payment/process")

    assert received["/api/v1/admin/reconciliation/runs"] == statement
    assert len(received["/api/v1/payment/process"]) == 1025  # cut one byte past the limit: the app answers 413


def test_a_chunked_body_is_read_whole_whatever_content_length_it_also_declares():
    """Both headers (hyper may pass both): the body is its chunks, read to the limit; the app sees no length."""
    received = {}

    def app(environ, start_response):
        received.update(length=environ.get("CONTENT_LENGTH"), body=environ["wsgi.input"].read(),
                        terminated=environ.get("wsgi.input_terminated"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    serve(app, Protocol(b"{}" + b" " * 5000), headers={"transfer-encoding": "chunked", "content-length": "2"})

    assert received == {"length": None, "body": b"{}" + b" " * 1023, "terminated": True}


def test_a_content_length_of_unicode_digits_is_not_a_server_error():
    def app(environ, start_response):
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [b"{}"]

    protocol = serve(app, Protocol(b"{}"), headers={"content-length": "\u00b2"})

    assert protocol.answer[:2] == ("bytes", 400)


def test_a_body_framed_by_its_content_length_is_read_whole_and_a_cut_one_is_the_app_s_to_refuse():
    """A declared length is read in one await; a client that hangs up before it gives the app an empty body (it
    answers 400 in its own shape), never a server error."""
    received = []

    def app(environ, start_response):
        received.append(environ["wsgi.input"].read())
        start_response("400 Bad Request" if not received[-1] else "200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    whole = serve(app, Protocol(b'{"a": 1}'), headers={"content-length": "8"})
    cut = serve(app, Protocol(b'{"a"', hang_up=True), headers={"content-length": "8"})

    assert received == [b'{"a": 1}', b""]
    assert whole.answer[:2] == ("bytes", 200) and cut.answer[:2] == ("bytes", 400)
