"""Time the fake upstream alone: N requests, C at once, from asyncio.

    python -m benchmarks.load_upstream --port 8701 --requests 2000 --concurrency 200

Prints one JSON line: wall seconds and the ideal requests x latency / C.
"""

import argparse
import asyncio
import json
import time


async def worker(port, queue, latencies):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /user HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n"
    while True:
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
    writer.close()


async def run(port, requests, concurrency):
    queue = asyncio.Queue()
    for number in range(requests):
        queue.put_nowait(number)
    latencies = []
    started = time.perf_counter()
    await asyncio.gather(*(worker(port, queue, latencies) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    wall, latencies = asyncio.run(run(args.port, args.requests, args.concurrency))
    ideal = args.requests * args.latency / args.concurrency
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "concurrency": args.concurrency,
                "wall": wall,
                "ideal": ideal,
                "ratio": wall / ideal if ideal else None,
            }
        )
    )


if __name__ == "__main__":
    main()
