"""Fallback downstream when nginx is absent: a tiny asyncio HTTP/1.1 server.

Answers every request with the same JSON the nginx config returns and writes
one access-log line per request in the same format
(``<path> <status> <X-Transaction-Ref>``), so bench/run.py counts calls the
same way. Keep-alive, Content-Length bodies only (what the switch sends).

    python bench/downstream/fixed_answer.py --port 8089 --access-log /tmp/access.log
"""

import argparse
import asyncio
import signal

BODY = b'{"status":"SUCCESS","code":"OK","message":"ok","data":{}}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + BODY)


def serve(port, access_log):
    log = open(access_log, "a", buffering=1)  # line-buffered: counted right after each step

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1] if " " in lines[0] else "-"
                length, ref = 0, "-"
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value.strip() or 0)
                    elif name == "x-transaction-ref":
                        ref = value.strip()
                if length:
                    await reader.readexactly(length)
                writer.write(RESPONSE)
                log.write(f"{path} 200 {ref}\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()
        log.close()

    asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--access-log", required=True)
    args = parser.parse_args()
    serve(args.port, args.access_log)
