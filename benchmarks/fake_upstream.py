"""A fast fake upstream for benchmarks: GitHub's /user and a registry's /v2/.

An asyncio HTTP/1.1 server with keep-alive that responds to every request
after a fixed latency, so thousands of connections cost one thread. Run it in its
own process:

    python -m benchmarks.fake_upstream --port 8701 --latency 0.1
"""

import argparse
import asyncio
import json

USER_BODY = json.dumps({"login": "octocat", "id": 1}).encode()
TOKEN_BODY = json.dumps({"token": "bench-registry-token"}).encode()
USER_HEADERS = (
    "X-OAuth-Scopes: repo, write:packages\r\n"
    "GitHub-Authentication-Token-Expiration: 2099-01-01 00:00:00 UTC\r\n"
    "Content-Type: application/json\r\n"
)
V2_HEADERS = "Docker-Distribution-API-Version: registry/2.0\r\n"


def response(status, headers, body):
    head = (
        f"HTTP/1.1 {status}\r\n{headers}"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


ROUTES = {
    "/user": (True, response("200 OK", USER_HEADERS, USER_BODY)),
    "/token": (
        False,
        response("200 OK", "Content-Type: application/json\r\n", TOKEN_BODY),
    ),
    "/v2/": (True, response("200 OK", V2_HEADERS, b"{}")),
}
NOT_FOUND = response("404 Not Found", "", b"")


class Counter:
    requests = 0
    open_connections = 0
    max_open_connections = 0


async def handle(reader, writer, latency):
    Counter.open_connections += 1
    Counter.max_open_connections = max(
        Counter.max_open_connections, Counter.open_connections
    )
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            path = request_line.split(" ")[1].split("?", 1)[0]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            delayed, payload = ROUTES.get(path, (False, NOT_FOUND))
            if delayed and latency:
                await asyncio.sleep(latency)
            Counter.requests += 1
            writer.write(payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        Counter.open_connections -= 1
        writer.close()


async def serve(port, latency):
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, latency), "127.0.0.1", port, backlog=1024
    )
    print(f"fake upstream on 127.0.0.1:{port}, latency {latency} s", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency))


if __name__ == "__main__":
    main()
