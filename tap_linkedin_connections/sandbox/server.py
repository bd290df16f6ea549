"""The sandbox: OutX's task API over HTTP, a simulated Chrome extension, and fault injection.

Everything mutable lives in one `Sandbox` and is guarded by its one condition variable,
which also wakes the extension worker when tasks arrive or settings change. Profiles
(fetch-profile and its controls) live in profiles.py, hooked in at ROUTES, the handler's
mix-in and `_work_on`. The endpoints are listed in the package's docstring.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import socket
import struct
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tap_linkedin_connections.sandbox.changes import Change, ListChanges, Spoilers
from tap_linkedin_connections.sandbox.data import ConnectionBook
from tap_linkedin_connections.sandbox.extension import ChromeExtension, Task
from tap_linkedin_connections.sandbox.profiles import (
    PROFILE_ROUTES,
    PROFILE_SHAPES,
    ProfileDesk,
    ProfileHandlers,
)

DEFAULT_API_KEY = "sandbox-api-key"

CREATE_PATH = "/linkedin-agent/fetch-connections"
CONNECTIONS_CREATED = "Fetch connections task created successfully"
POLL_PATH = "/linkedin-agent/get-task-status"

# Faults that replace (or, for read_timeout, delay) the answer to a create or poll
# request. Drawn in this order; the first hit wins.
REQUEST_FAULTS = (
    "connection_reset",
    "read_timeout",
    "http_429",
    "http_500",
    "http_502_html",
    "http_503_empty",
    "http_504",
)
# Faults that garble a 200 answer after the request was handled.
BODY_FAULTS = ("malformed_json", "truncated_json")
# Faults drawn once per created task.
TASK_FAULTS = ("create_lost", "task_stuck_pending", "task_fail", "task_slow")
FAULT_KINDS = REQUEST_FAULTS + BODY_FAULTS + TASK_FAULTS
FAULT_ENDPOINTS = ("create", "poll")
RESULT_SHAPES = ("object", "list")
TASK_STATUSES = ("pending", "processing", "completed", "failed")

EXTENSION_INACTIVE = (
    "Plugin installation required: no team member's OutX Chrome extension has been active"
    " in the last 48 hours"
)
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)
HTML_504 = (
    b"<html><head><title>504 Gateway Time-out</title></head><body>"
    b"<center><h1>504 Gateway Time-out</h1></center><hr><center>nginx</center></body></html>\n"
)
# What a buggy upstream might emit: looks like JSON, is not.
MALFORMED_JSON = b'{"success": true, "data": undefined}'


class BadRequest(ValueError):
    """A request the API answers with 400 and this message."""


@dataclass
class Settings:
    """What `configure` can change while the sandbox runs."""

    pickup_delay: float = 0.0
    work_time: float = 0.0
    work_time_jitter: float = 0.0
    result_shape: str = "object"
    profile_shape: str = "flat"
    extension_active: bool = True
    faults: dict[str, float] = field(default_factory=dict)
    fault_endpoints: list[str] = field(default_factory=lambda: list(FAULT_ENDPOINTS))
    retry_after: float = 0.01
    hang_seconds: float = 2.0
    slow_factor: float = 5.0


SETTING_NAMES = tuple(f.name for f in fields(Settings))


def parse_task_input(body: Any) -> dict[str, Any]:
    """The task input the service stores for a create request, defaults filled in."""
    if not isinstance(body, dict):
        raise BadRequest("Invalid request body: must be a JSON object")
    task_input: dict[str, Any] = {}
    for name in ("keyword", "sort_type"):
        if name in body:
            if not isinstance(body[name], str):
                raise BadRequest(f"Invalid '{name}': must be a string")
            task_input[name] = body[name]
    start = body.get("start", 0)
    if not _is_whole_number(start) or start < 0:
        raise BadRequest("Invalid 'start': must be a non-negative integer")
    count = body.get("count", 40)
    if not _is_whole_number(count) or not 1 <= count <= 100:
        raise BadRequest("Invalid 'count': must be a number between 1 and 100")
    task_input["start"] = int(start)
    task_input["count"] = int(count)
    return task_input


def _is_whole_number(value: Any) -> bool:
    # JSON has one number type: 40.0 is 40 to a JavaScript service, but true is not 1.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _check_setting(name: str, value: Any) -> Any:
    """`value` validated (and normalised) for setting `name`; ValueError if wrong."""
    if name not in SETTING_NAMES:
        raise ValueError(f"unknown setting {name!r}; known: {', '.join(SETTING_NAMES)}")
    if name == "result_shape":
        if value not in RESULT_SHAPES:
            raise ValueError(f"result_shape must be one of {RESULT_SHAPES}")
        return value
    if name == "profile_shape":
        if value not in PROFILE_SHAPES:
            raise ValueError(f"profile_shape must be one of {PROFILE_SHAPES}")
        return value
    if name == "extension_active":
        if not isinstance(value, bool):
            raise ValueError("extension_active must be true or false")
        return value
    if name == "faults":
        return _check_faults(value)
    if name == "fault_endpoints":
        if not isinstance(value, (list, tuple)) or not set(value) <= set(FAULT_ENDPOINTS):
            raise ValueError(f"fault_endpoints must be a list drawn from {FAULT_ENDPOINTS}")
        return list(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    if name == "work_time_jitter" and value > 1:
        raise ValueError("work_time_jitter must be between 0 and 1")
    return float(value)


def _check_faults(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError("faults must be an object {kind: probability}")
    faults: dict[str, float] = {}
    for kind, probability in value.items():
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if isinstance(probability, bool) or not isinstance(probability, (int, float)):
            raise ValueError(f"fault {kind!r}: probability must be a number")
        if not 0 <= probability <= 1:
            raise ValueError(f"fault {kind!r}: probability must be between 0 and 1")
        faults[kind] = float(probability)
    return faults


def _check_loopback(host: str) -> bool:
    """Whether `host` is IPv6; ValueError unless it is a loopback address."""
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(
            f"the sandbox binds to loopback only (127.0.0.1, ::1 or localhost), not {host!r}:"
            " it serves fake data behind a well-known API key"
        )
    return address.version == 6


def _retry_after_header(seconds: float) -> str:
    return f"{seconds:.6f}".rstrip("0").rstrip(".") or "0"


class Sandbox(ListChanges, ChromeExtension):
    """A local stand-in for OutX's LinkedIn Data API (fetch-connections, fetch-profile and
    task status). Profile controls: `profiles` (a profiles.ProfileDesk)."""

    _settings: Settings  # all of them; the extension reads only its own (ExtensionSettings)

    def __init__(
        self,
        *,
        connections: int = 1234,
        seed: int = 7,
        api_key: str = DEFAULT_API_KEY,
        pickup_delay: float = 0.0,
        work_time: float = 0.0,
        work_time_jitter: float = 0.0,
        result_shape: str = "object",
        profile_shape: str = "flat",
        extension_active: bool = True,
        faults: dict[str, Any] | None = None,
        fault_endpoints: list[str] | tuple[str, ...] = FAULT_ENDPOINTS,
        retry_after: float = 0.01,
        hang_seconds: float = 2.0,
        slow_factor: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
        log_requests: bool = False,
    ) -> None:
        self._ipv6 = _check_loopback(host)
        self.host = host
        self.port = port
        self.api_key = api_key
        self.log_requests = log_requests
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._book = ConnectionBook(connections, seed)
        self.profiles = ProfileDesk(self._cond, self._book, seed)
        # Faults and work-time jitter draw from separate generators, so that the worker
        # thread's draws cannot reorder the request threads' fault draws.
        self._rng = random.Random(seed)
        self._jitter_rng = random.Random(f"{seed}/jitter")
        self._settings = Settings()
        self.configure(
            pickup_delay=pickup_delay,
            work_time=work_time,
            work_time_jitter=work_time_jitter,
            result_shape=result_shape,
            profile_shape=profile_shape,
            extension_active=extension_active,
            faults=faults or {},
            fault_endpoints=fault_endpoints,
            retry_after=retry_after,
            hang_seconds=hang_seconds,
            slow_factor=slow_factor,
        )
        self._origin = time.monotonic()
        self._activated_at = 0.0
        self._tasks: dict[str, Task] = {}
        self._queue: deque[Task] = deque()
        # Changes to the list due once so many tasks exist.
        self._scheduled: list[Change] = []
        self._spoilers = Spoilers()
        self._reset_counters()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None or self._stopping.is_set():
            raise RuntimeError("a sandbox starts once")
        self._server = _Server((self.host, self.port), self, ipv6=self._ipv6)
        self.port = self._server.server_address[1]
        with self._cond:
            self._origin = time.monotonic()
            self._activated_at = 0.0
        self._threads = [
            threading.Thread(target=self._serve, args=(self._server,), daemon=True),
            threading.Thread(target=self._run_extension, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _serve(self, server: _Server) -> None:
        # A short poll interval, because stop() waits for the serving loop to notice.
        server.serve_forever(poll_interval=0.02)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._cond:
            self._stopping.set()
            self._cond.notify_all()
        server.close_open_connections()
        server.server_close()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host = f"[{self.host}]" if self._ipv6 else self.host
        return f"http://{host}:{self.port}"

    # -- control (the list's: see changes.py) -------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change any of the `Settings` fields; `seed` re-seeds the fault/jitter draws.
        `faults` replaces the whole fault profile; it may carry an "endpoints" list,
        the same as the `fault_endpoints` setting."""
        changes = dict(changes)
        if isinstance(changes.get("faults"), dict) and "endpoints" in changes["faults"]:
            changes["faults"] = dict(changes["faults"])
            changes["fault_endpoints"] = changes["faults"].pop("endpoints")
        seed = changes.pop("seed", None)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer")
        checked = {name: _check_setting(name, value) for name, value in changes.items()}
        with self._cond:
            if seed is not None:
                self._rng.seed(seed)
                self._jitter_rng.seed(f"{seed}/jitter")
            if checked.get("extension_active") and not self._settings.extension_active:
                # A fresh heartbeat: queued tasks wait for the extension's next queue check.
                self._activated_at = self._now()
            for name, value in checked.items():
                setattr(self._settings, name, value)
            self._cond.notify_all()

    def settings(self) -> dict[str, Any]:
        with self._cond:
            return {name: _copy(getattr(self._settings, name)) for name in SETTING_NAMES}

    def forget(self, task_ids: list[str]) -> list[str]:
        """Make the service answer 404 for these tasks (the extension still runs them).
        Returns the ids it knew."""
        with self._cond:
            known = [task_id for task_id in task_ids if task_id in self._tasks]
            for task_id in known:
                self._tasks[task_id].forgotten = True
            return known

    def reset_stats(self) -> None:
        """Start counting afresh. Existing tasks keep running and answering polls."""
        with self._cond:
            self._reset_counters()

    def stats(self) -> dict[str, Any]:
        with self._cond:
            tasks = self._counted_tasks
            by_status = Counter({status: 0 for status in TASK_STATUSES})
            by_status.update(task.status for task in tasks)
            pickups = [t.picked_up_at for t in tasks if t.picked_up_at is not None]
            finished = [t for t in tasks if t.status in ("completed", "failed")]
            return {
                "tasks_created": len(tasks),
                "tasks_by_status": dict(by_status),
                "tasks": [task.record() for task in tasks],
                "polls_total": self._polls_total,
                "faults_injected": dict(self._faults_injected),
                "requests": dict(self._requests),
                "first_created_at": tasks[0].created_at if tasks else None,
                # Seconds from the first task's creation to the extension's first pickup.
                "first_pickup_at": min(pickups) - tasks[0].created_at if pickups else None,
                "sum_work_time": sum(
                    t.work_time or 0.0 for t in finished if t.status == "completed"
                ),
                # Like sum_work_time, but failed tasks too: they also held the extension.
                "busy_time": sum(t.work_time or 0.0 for t in finished),
                "last_finished_at": max((t.completed_at or 0.0 for t in finished), default=None),
                "queue_length": len(self._queue),
                "connections": len(self._book),
                "now": self._now(),
                "settings": self.settings(),  # the condition's lock is re-entrant
            }

    # -- the API, as the HTTP handler calls it -----------------------------------------

    def _now(self) -> float:
        return time.monotonic() - self._origin

    def _reset_counters(self) -> None:
        self._counted_tasks: list[Task] = []
        self._polls_total = 0
        self._faults_injected = Counter({kind: 0 for kind in FAULT_KINDS})
        self._requests = Counter({"create": 0, "poll": 0, "control": 0, "other": 0})

    def _count_request(self, endpoint: str) -> None:
        with self._cond:
            self._requests[endpoint] += 1

    def _draw(self, kind: str) -> bool:
        """Whether fault `kind` strikes now (counted if so). Call with the lock held."""
        probability = self._settings.faults.get(kind, 0.0)
        if probability <= 0 or self._rng.random() >= probability:
            return False
        self._faults_injected[kind] += 1
        return True

    def _draw_request_fault(self, endpoint: str, kinds: tuple[str, ...]) -> str | None:
        with self._cond:
            if endpoint not in self._settings.fault_endpoints:
                return None
            return next((kind for kind in kinds if self._draw(kind)), None)

    def _draw_create_lost(self) -> str | None:
        """None, or how the answer to a create gets lost: "http_502_html" or "connection_reset"."""
        with self._cond:
            if not self._draw("create_lost"):
                return None
            return "http_502_html" if self._rng.random() < 0.5 else "connection_reset"

    def _fault_timing(self) -> tuple[float, float]:
        with self._cond:
            return self._settings.retry_after, self._settings.hang_seconds

    def _hang(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _create_task(
        self, task_input: dict[str, Any], message: str = CONNECTIONS_CREATED
    ) -> tuple[int, dict[str, Any]]:
        with self._cond:
            if not self._settings.extension_active:
                return 403, {"error": EXTENSION_INACTIVE}
            faults = [kind for kind in ("task_stuck_pending",) if self._draw(kind)]
            if not faults:
                faults = [kind for kind in ("task_fail", "task_slow") if self._draw(kind)]
            task = Task(
                id=str(uuid.uuid4()),
                input=task_input,
                created_at=self._now(),
                created_wall=time.time(),
                faults=faults,
            )
            self._tasks[task.id] = task
            self._counted_tasks.append(task)
            self._apply_scheduled()
            if "task_stuck_pending" not in faults:
                # A stuck task is never queued, so it cannot hold up the tasks behind it.
                self._queue.append(task)
                self._cond.notify_all()
        return 200, {
            "success": True,
            "api_agent_task_id": task.id,
            "message": message,
        }

    def _note_lost_answer(self, task_id: str) -> None:
        with self._cond:
            self._tasks[task_id].faults.append("create_lost")

    def _task_status(self, task_id: str) -> tuple[int, dict[str, Any]]:
        with self._cond:
            task = self._tasks.get(task_id)
            if task is None and not self._settings.extension_active:
                # Measured on OutX: an unknown task id answers 403 while no extension is
                # active, which is how the tap's --test checks the extension for free.
                return 403, {"error": EXTENSION_INACTIVE}
            if task is None or task.forgotten:
                return 404, {"error": "Agent task not found"}
            task.polls += 1
            self._polls_total += 1
            data = {
                "id": task.id,
                "status": task.status,
                "task_input": dict(task.input),
                "task_output": task.output,
            }
        return 200, {"success": True, "data": data}


def _copy(value: Any) -> Any:
    """A shallow copy of a setting's value, so callers cannot change the live one."""
    if isinstance(value, (dict, list)):
        return type(value)(value)
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, *, ipv6: bool) -> None:
        if ipv6:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self._open_connections: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can take seconds
        # where DNS is unreachable; a loopback server does not need it.
        TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = self.server_address[1]

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            if is_open:
                self._open_connections.add(connection)
            else:
                self._open_connections.discard(connection)

    def close_open_connections(self) -> None:
        """Hang up on kept-alive clients so their handler threads end with the server."""
        with self._open_lock:
            for connection in self._open_connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer are expected here (timeouts, fault tests).
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


# (path) -> (method, endpoint name for the request counters, handler method name)
ROUTES = {
    CREATE_PATH: ("POST", "create", "_handle_create"),
    POLL_PATH: ("GET", "poll", "_handle_poll"),
    "/_sandbox/stats": ("GET", "control", "_handle_stats"),
    "/_sandbox/connections": ("GET", "control", "_handle_list_connections"),
    "/_sandbox/connections/add": ("POST", "control", "_handle_add"),
    "/_sandbox/connections/remove": ("POST", "control", "_handle_remove"),
    "/_sandbox/connections/reconnect": ("POST", "control", "_handle_reconnect"),
    "/_sandbox/spoil-page": ("POST", "control", "_handle_spoil_page"),
    "/_sandbox/configure": ("POST", "control", "_handle_configure"),
    "/_sandbox/forget": ("POST", "control", "_handle_forget"),
    "/_sandbox/reset-stats": ("POST", "control", "_handle_reset_stats"),
    **PROFILE_ROUTES,
}

# (HTTP status, JSON payload), or None when the handler has answered by itself.
Answer = tuple[int, Any] | None


class _Handler(ProfileHandlers, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate sends: without this, keep-alive requests
    # stall about 40 ms on Nagle's algorithm meeting a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "OutXSandbox/1.0"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.log_requests:
            super().log_message(format, *args)

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        try:
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True  # no trustworthy length: the stream is lost
            self._send_json(400, {"error": "Invalid Content-Length"})
            return
        route = ROUTES.get(url.path)
        if route is None:
            sandbox._count_request("other")
            self._send_json(404, {"error": "Not found"})
            return
        allowed_method, endpoint, handler_name = route
        sandbox._count_request(endpoint)
        if method != allowed_method:
            self._send_json(405, {"error": "Method Not Allowed"})
            return
        if endpoint in FAULT_ENDPOINTS:
            fault = sandbox._draw_request_fault(endpoint, REQUEST_FAULTS)
            if fault == "read_timeout":
                # Answer normally, but only after the client should have given up.
                sandbox._hang(sandbox._fault_timing()[1])
            elif fault is not None:
                self._send_fault(fault)
                return
        api_key = self.headers.get("x-api-key")
        if not api_key:
            self._send_json(401, {"error": "Missing API Key"})
            return
        if api_key != sandbox.api_key:
            self._send_json(401, {"error": "Invalid API Key"})
            return
        try:
            answer = getattr(self, handler_name)()
        except ValueError as error:  # BadRequest, or a control call's invalid argument
            answer = 400, {"error": str(error)}
        if answer is None:
            return  # a fault already answered, or hung up
        status, payload = answer
        if status == 200 and endpoint in FAULT_ENDPOINTS:
            fault = sandbox._draw_request_fault(endpoint, BODY_FAULTS)
            if fault is not None:
                self._send_fault(fault, payload)
                return
        self._send_json(status, payload)

    def _query_param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def _json_body(self) -> Any:
        if not self.body.strip():
            return {}  # an empty body fetches the first page of all connections
        try:
            return json.loads(self.body)
        except ValueError:
            raise BadRequest("Invalid request body: must be a JSON object") from None

    def _control_body(self) -> dict[str, Any]:
        body = self._json_body()
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        return body

    # -- API endpoints ----------------------------------------------------------------

    def _handle_create(self) -> Answer:
        return self._create(parse_task_input(self._json_body()), CONNECTIONS_CREATED)

    def _create(self, task_input: dict[str, Any], message: str) -> Answer:
        """Create a task of any kind, with the faults every create may meet."""
        sandbox = self.server.sandbox
        status, payload = sandbox._create_task(task_input, message)
        if status == 200:
            lost_as = sandbox._draw_create_lost()
            if lost_as is not None:
                # The task is queued, but the client never learns its id.
                sandbox._note_lost_answer(payload["api_agent_task_id"])
                self._send_fault(lost_as)
                return None
        return status, payload

    def _handle_poll(self) -> Answer:
        task_id = self._query_param("api_agent_task_id") or ""
        try:
            uuid.UUID(task_id)
        except ValueError:
            return 400, {"error": "Missing or invalid 'api_agent_task_id'"}
        return self.server.sandbox._task_status(task_id)

    # -- control endpoints ------------------------------------------------------------

    def _handle_stats(self) -> Answer:
        return 200, self.server.sandbox.stats()

    def _handle_list_connections(self) -> Answer:
        found = self.server.sandbox.connections(
            sort_type=self._query_param("sort_type"), keyword=self._query_param("keyword")
        )
        return 200, {"connections": found, "total": len(found)}

    def _handle_add(self) -> Answer:
        added = self.server.sandbox.add_connections(self._control_body().get("count", 1))
        return 200, {"connections": added, "total": len(added)}

    def _handle_remove(self) -> Answer:
        body = self._control_body()
        entity_urns, positions = body.get("entity_urns"), body.get("positions")
        for name, value in (("entity_urns", entity_urns), ("positions", positions)):
            if value is not None and not isinstance(value, list):
                raise BadRequest(f"'{name}' must be a list")
        removed = self.server.sandbox.remove_connections(entity_urns, positions)
        return 200, {"connections": removed, "total": len(removed)}

    def _handle_reconnect(self) -> Answer:
        body = self._control_body()
        people = body.get("entity_urns", body.get("positions"))
        if not isinstance(people, list):
            raise BadRequest("'positions' or 'entity_urns' must be a list")
        back = self.server.sandbox.reconnect_connections(people)
        return 200, {"connections": back, "total": len(back)}

    def _handle_spoil_page(self) -> Answer:
        body = self._control_body()
        start, kind = body.get("start"), body.get("kind")
        if not isinstance(start, int) or not isinstance(kind, str):
            raise BadRequest("'start' must be a number and 'kind' a string")
        self.server.sandbox.spoil_page(start, kind, body.get("times", 1))
        return 200, {"success": True}

    def _handle_configure(self) -> Answer:
        self.server.sandbox.configure(**self._control_body())
        return 200, {"success": True, "settings": self.server.sandbox.settings()}

    def _handle_forget(self) -> Answer:
        task_ids = self._control_body().get("task_ids")
        if not isinstance(task_ids, list):
            raise BadRequest("'task_ids' must be a list")
        return 200, {"success": True, "forgotten": self.server.sandbox.forget(task_ids)}

    def _handle_reset_stats(self) -> Answer:
        self.server.sandbox.reset_stats()
        return 200, {"success": True}

    # -- answering --------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _send_fault(self, kind: str, payload: Any = None) -> None:
        retry_after = self.server.sandbox._fault_timing()[0]
        if kind == "connection_reset":
            self._reset_connection()
        elif kind == "http_429":
            body = json.dumps({"error": "Rate limit exceeded. Please try again later."}).encode()
            headers = {"Retry-After": _retry_after_header(retry_after)}
            self._send(429, body, "application/json; charset=utf-8", headers)
        elif kind == "http_500":
            body = json.dumps({"error": "Internal Server Error"}).encode()
            self._send(500, body, "application/json; charset=utf-8")
        elif kind == "http_502_html":
            self._send(502, HTML_502, "text/html")
        elif kind == "http_503_empty":
            self._send(503, b"", "text/plain")
        elif kind == "http_504":
            self._send(504, HTML_504, "text/html")
        elif kind == "malformed_json":
            self._send(200, MALFORMED_JSON, "application/json; charset=utf-8")
        elif kind == "truncated_json":
            body = json.dumps(payload, ensure_ascii=False).encode()
            self._send(200, body[: len(body) // 2], "application/json; charset=utf-8")
        else:
            raise AssertionError(f"not a response fault: {kind}")

    def _reset_connection(self) -> None:
        """Hang up without a word: a linger time of 0 makes the close a TCP reset."""
        self.close_connection = True
        linger_zero = struct.pack("ii", 1, 0)
        with contextlib.suppress(OSError):  # already closed by the client
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The client is gone (it timed out, or a fault hung up on it).
            self.close_connection = True
