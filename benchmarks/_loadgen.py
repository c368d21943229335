"""A lean HTTP/1.1 load generator for the benchmarks, run as a process of its own.

    python benchmarks/_loadgen.py HOST PORT CONNECTIONS REQUESTS_FILE [--warm K]

What real load tools (wrk, oha) do, in the standard library only: every request is built
(and signed) by the caller before the timed window and handed over in ``REQUESTS_FILE``
(a pickled list of complete HTTP/1.1 requests as bytes); here they are sent over
``CONNECTIONS`` persistent keep-alive connections (TCP_NODELAY), opened before the window,
from one thread on one ``selectors`` loop. Each connection has one request in flight and
takes the next unsent request when its answer is complete (a closed loop, like wrk's
connections), so the client never holds a GIL the server or its own threads wait for.

Protocol with the caller (stdin/stdout, one line each):
1. after connecting and sending the first ``K`` requests (untimed warm-up, when given), this
   prints ``ready``;
2. it waits for a line on stdin (the caller reads the server's CPU, then writes ``go``);
3. it sends the rest, then prints one JSON line: ``seconds`` (wall, first send to last
   answer), ``cpu`` (this process's CPU seconds over the same window), ``latencies``
   (seconds per request), ``bad`` (answers other than ``200`` with the expected body, first
   ``MAX_BAD``) and ``requests``.

An answer is read as its status line, its headers and ``Content-Length`` bytes of body; a
connection the server closes fails the run (exit status 1).
"""

from __future__ import annotations

import json
import pickle
import selectors
import socket
import sys
import time
from pathlib import Path

EXPECTED = b'{"code":"SUCCESS"}'
MAX_BAD = 50
RECV = 65536


class Conn:
    """One keep-alive connection and the request it has in flight."""

    __slots__ = ("buffer", "index", "pending", "sent_at", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.index = -1
        self.sent_at = 0.0
        self.buffer = b""
        self.pending = b""  # what is left to send of the current request

    def answer(self) -> tuple[int, bytes] | None:
        """(status, body) once a whole answer is buffered, else ``None``."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return None
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        return int(head.split(b" ", 2)[1]), body


def run(host: str, port: int, connections: int, requests: list[bytes], warm: int) -> dict:
    selector = selectors.DefaultSelector()
    conns = []
    for _ in range(min(connections, max(1, len(requests)))):
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = Conn(sock)
        conns.append(conn)
        selector.register(sock, selectors.EVENT_READ, conn)
    latencies = [0.0] * len(requests)
    bad: list[str] = []
    next_index = 0

    def send(conn: Conn) -> None:
        nonlocal next_index
        conn.index = next_index
        next_index += 1
        conn.sent_at = time.perf_counter()
        data = requests[conn.index]
        done = conn.sock.send(data)
        conn.pending = data[done:]
        if conn.pending:
            selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def drive(stop: int) -> None:
        """Send requests up to index ``stop`` and wait for every answer."""
        in_flight = 0
        for conn in conns:
            if next_index < stop:
                send(conn)
                in_flight += 1
        while in_flight:
            for key, events in selector.select():
                conn = key.data
                if events & selectors.EVENT_WRITE and conn.pending:
                    done = conn.sock.send(conn.pending)
                    conn.pending = conn.pending[done:]
                    if not conn.pending:
                        selector.modify(conn.sock, selectors.EVENT_READ, conn)
                if not events & selectors.EVENT_READ:
                    continue
                chunk = conn.sock.recv(RECV)
                if not chunk:
                    raise ConnectionError(f"the server closed a connection (request {conn.index})")
                conn.buffer += chunk
                got = conn.answer()
                if got is None:
                    continue
                latencies[conn.index] = time.perf_counter() - conn.sent_at
                status, body = got
                if (status != 200 or body != EXPECTED) and len(bad) < MAX_BAD:
                    bad.append(f"request {conn.index}: {status} {body[:120]!r}")
                if next_index < stop:
                    send(conn)
                else:
                    in_flight -= 1

    drive(warm)
    print("ready", flush=True)
    sys.stdin.readline()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    drive(len(requests))
    seconds, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    for conn in conns:
        conn.sock.close()
    return {
        "requests": len(requests) - warm,
        "seconds": seconds,
        "cpu": cpu,
        "latencies": latencies[warm:],
        "bad": bad,
    }


def main(argv: list[str]) -> int:
    host, port, connections, path = argv[0], int(argv[1]), int(argv[2]), Path(argv[3])
    warm = int(argv[5]) if len(argv) > 5 and argv[4] == "--warm" else 0
    requests = pickle.loads(path.read_bytes())
    try:
        result = run(host, port, connections, requests, warm)
    except OSError as broken:
        print(json.dumps({"error": f"{type(broken).__name__}: {broken}"}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
