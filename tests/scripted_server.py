"""A loopback HTTP server that answers from a script, for exact protocol tests.

The sandbox simulates OutX faithfully; this server instead plays back exactly the
answers a test lists (an unknown status, a Retry-After, a garbled body), and records
every request it received with its arrival time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import typing as t
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    """One scripted answer: status, JSON-able body (or raw bytes) and headers."""

    status: int = 200
    body: t.Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: t.Any
    at: float


def task_created(task_id: str) -> Answer:
    return Answer(200, {"success": True, "api_agent_task_id": task_id, "message": "created"})


def task_state(task_id: str, status: str, output: t.Any = None) -> Answer:
    data = {"id": task_id, "status": status, "task_input": {}, "task_output": output}
    return Answer(200, {"success": True, "data": data})


class ScriptedServer:
    """Answers POSTs from ``creates`` and GETs from ``polls``, in order.

    When a script runs out, its last answer repeats.
    """

    def __init__(self, creates: list[Answer], polls: list[Answer]) -> None:
        self.creates = list(creates)
        self.polls = list(polls)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: t.Any) -> None:
                pass

            def _answer(self, script: list[Answer]) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                with server._lock:
                    server.received.append(
                        Received(
                            self.command,
                            parts.path,
                            parse_qs(parts.query),
                            dict(self.headers.items()),
                            json.loads(raw) if raw else None,
                            time.monotonic(),
                        )
                    )
                    answer = script.pop(0) if len(script) > 1 else script[0]
                payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                self._answer(server.creates)

            def do_GET(self) -> None:
                self._answer(server.polls)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # serve_forever notices shutdown() only between polls (every 0.5 s by default):
        # a short poll lets every test end as soon as its tap has exited.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def requests(self, method: str) -> list[Received]:
        return [r for r in self.received if r.method == method]


#: A status answer for any task, as OutX sends it, padded (JSON allows trailing blanks)
#: so that trickled it lasts longer than any test.
_COMPLETED = b'{"success": true, "data": {"id": "t1", "status": "completed", "task_output": []}}'
_COMPLETED = _COMPLETED.ljust(1024)


class TricklingServer:
    """Answers every request one byte at a time, a byte every ``interval`` seconds.

    ``headers_first``: the status line and headers arrive at once and only the body
    trickles. The server hangs up after ``for_seconds`` (so that a client without a
    deadline on the whole request ends too, late). ``received_at`` holds when each
    request arrived.
    """

    def __init__(self, *, interval: float, for_seconds: float, headers_first: bool) -> None:
        self.interval = interval
        self.for_seconds = for_seconds
        self.headers_first = headers_first
        self.received_at: list[float] = []
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(0.02)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> TricklingServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            self.received_at.append(time.monotonic())
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(_COMPLETED)
            )
            payload = head + _COMPLETED
            try:
                if self.headers_first:
                    conn.sendall(head)
                    payload = _COMPLETED
                ends = time.monotonic() + self.for_seconds
                for byte in payload:
                    if self._stop.is_set() or time.monotonic() > ends:
                        return
                    conn.sendall(bytes([byte]))
                    self._stop.wait(self.interval)
            except OSError:
                return  # the client hung up
