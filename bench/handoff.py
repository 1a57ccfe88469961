"""CPU per request of the serving layer's hand-off (granian's loop → a Flask thread → back), without Flask.

    python bench/handoff.py [--requests N] [--concurrency C] [--against OTHER_CHECKOUT]

Drives ``gateway.serving.BufferedWSGI`` with in-memory RSGI requests whose WSGI app answers at once, so what is
measured is the hand-off alone: process CPU per request (user + system), sequential and concurrent. With
``--against``, the same figures for another checkout's ``gateway/serving.py``, in the same run.
"""

import argparse
import asyncio
import importlib.util
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class Headers(dict):
    pass


class Scope:
    proto, method, path, query_string, scheme, http_version = "http", "POST", "/pay", "", "http", "1.1"
    server, client = "127.0.0.1:8000", "127.0.0.1:50000"

    def __init__(self, body):
        self.headers = Headers({"content-type": "application/json", "content-length": str(len(body))})


class Protocol:
    def __init__(self, body):
        self.body, self.answered = body, None

    async def __call__(self):  # the whole body in one await, as granian gives it
        return self.body

    def __aiter__(self):
        self._sent = False
        return self

    async def __anext__(self):
        if self._sent:
            raise StopAsyncIteration
        self._sent = True
        return self.body

    def response_bytes(self, status, headers, content):
        self.answered = status


def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status":"SUCCESS"}']


def load(checkout):
    spec = importlib.util.spec_from_file_location(f"serving_{abs(hash(str(checkout)))}",
                                                  Path(checkout) / "gateway" / "serving.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def drive(server, requests, concurrency):
    body = b'{"f000":"ms","f010":"x"}' * 4

    async def one():
        protocol = Protocol(body)
        await server.__rsgi__(Scope(body), protocol)
        assert protocol.answered == 200

    for _ in range(requests // concurrency):
        await asyncio.gather(*(one() for _ in range(concurrency)))


def measure(module, requests, concurrency):
    server = module.BufferedWSGI(app, 8, 1 << 20, 10)
    loop = asyncio.new_event_loop()
    server.__rsgi_init__(loop)
    loop.run_until_complete(drive(server, 200, concurrency))  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    loop.run_until_complete(drive(server, requests, concurrency))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    server.__rsgi_del__(loop)
    loop.close()
    return cpu / requests * 1e6, wall / requests * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--against", help="another checkout whose serving.py is measured alongside")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    checkouts = [("this checkout", REPO)] + ([("against", Path(args.against))] if args.against else [])
    modules = [(name, load(path)) for name, path in checkouts]
    for round_ in (1, 2):  # interleaved rounds: the machine's other load hits both alike
        for name, module in modules:
            for c in (1, args.concurrency):
                cpu, wall = measure(module, args.requests, c)
                print(f"round {round_} {name:13} c={c:<3} CPU {cpu:7.1f} µs/request  wall {wall:7.1f} µs/request")


if __name__ == "__main__":
    main()
