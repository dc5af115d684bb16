#!/usr/bin/env python3
"""Holds --connections keep-alive connections open and sends GETs at a fixed total --rate for --duration seconds,
round-robin over the connections (wrk cannot limit its rate). Requests come from a "path<TAB>token" file, as for
rotate.lua. Latency counts from when a request was due, so a late client or a busy connection shows in it.
Prints the result as JSON."""
import argparse
import asyncio
import json
import resource
import time


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer, self.lock = reader, writer, asyncio.Lock()

    async def exchange(self, request):
        """Sends one request and reads its whole response; returns the status code."""
        async with self.lock:
            self.writer.write(request)
            return await read_response(self.reader)

    @property
    def open(self):
        return not self.writer.is_closing() and not self.reader.at_eof()


async def read_response(reader):
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    return int(head[0].split()[1])


def load_requests(path, host):
    requests = []
    for line in open(path).read().splitlines():
        target, _, token = line.partition("\t")
        authorization = f"Authorization: Bearer {token}\r\n" if token else ""
        requests.append(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{authorization}\r\n".encode())
    return requests


async def open_connections(host, port, count):
    """Opens count connections, 200 at a time so the listen backlog never overflows."""
    limit = asyncio.Semaphore(200)

    async def connect():
        async with limit:
            return Connection(*await asyncio.open_connection(host, port))

    opened = await asyncio.gather(*(connect() for _ in range(count)), return_exceptions=True)
    return [connection for connection in opened if isinstance(connection, Connection)]


async def measure(args):
    requests = load_requests(args.requests, f"{args.host}:{args.port}")
    started = time.monotonic()
    connections = await open_connections(args.host, args.port, args.connections)
    connect_seconds = time.monotonic() - started
    if not connections:
        raise SystemExit(f"bench/connections.py: could not connect to {args.host}:{args.port}")
    latencies, failures = [], []

    async def send(connection, request, due):
        try:
            status = await connection.exchange(request)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            failures.append(type(error).__name__)
            return
        if 200 <= status < 400:
            latencies.append(time.monotonic() - due)
        else:
            failures.append(str(status))

    tasks = []
    started = time.monotonic()
    for index in range(args.rate * args.duration):
        due = started + index / args.rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        tasks.append(asyncio.create_task(send(connections[index % len(connections)], requests[index % len(requests)], due)))
    _, unfinished = await asyncio.wait(tasks, timeout=30)
    elapsed = time.monotonic() - started
    open_at_end = sum(connection.open for connection in connections)
    for connection in connections:
        connection.writer.close()
    latencies.sort()
    return {
        "connections": args.connections, "opened": len(connections), "open_at_end": open_at_end,
        "connect_seconds": connect_seconds, "rate": args.rate, "duration": args.duration, "sent": len(tasks),
        "completed": len(latencies), "achieved_rate": len(latencies) / elapsed,
        "errors": len(failures) + len(unfinished), "error_kinds": sorted(set(failures)) + (["timeout"] if unfinished else []),
        "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99), "max_ms": percentile(latencies, 1.0),
    }


def percentile(sorted_seconds, fraction):
    if not sorted_seconds:
        return None
    return sorted_seconds[min(len(sorted_seconds) - 1, int(fraction * len(sorted_seconds)))] * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", required=True, help='file of "path<TAB>token" lines')
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--rate", type=int, default=2000, help="requests per second, over all connections")
    parser.add_argument("--duration", type=int, default=15)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.connections > hard - 100:
        parser.error(f"--connections {args.connections} needs more file descriptors than the limit ({hard})")
    print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()
