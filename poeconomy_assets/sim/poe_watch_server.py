"""A local POE Watch server (stdlib ``ThreadingHTTPServer``, 127.0.0.1 only) with switchable faults.

Serves ``/leagues``, ``/get`` and ``/history`` from a market (``core.live_market``) at a simulated time that
advances at ``speed`` × wall-clock (0 = only when told). ``GET /_control`` shows the state (simulated time,
faults, request counts); ``POST /_control`` with a JSON object changes it at runtime, e.g.::

    {"fault": {"kind": "429", "times": 2, "retry_after": 1}}   kinds: latency 429 403 500 503 malformed
                                                                 html empty null object drop
    {"clear_faults": true}   {"advance_seconds": 300}   {"now": "2025-06-20T12:00:00Z"}   {"speed": 60}
    {"leagues": [...]}  or  {"leagues_file": "path/to/leagues.json"}   {"recompute_seconds": 300}

A fault applies to the API endpoints (optionally only those starting with ``path``), ``times`` requests
in a row (null: until cleared), after letting ``after`` requests through.
"""

import json
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

FAULT_KINDS = ("latency", "429", "403", "500", "503", "malformed", "html", "empty", "null", "object", "drop")
HTML_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"


@dataclass
class Fault:
    kind: str
    times: int | None = 1  # requests it still applies to (None: until cleared)
    retry_after: float | None = 1.0  # for 429/503
    latency: float = 0.0  # seconds, for "latency"
    path: str | None = None  # only requests whose path starts with this
    after: int = 0  # let this many matching requests through first

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out (the latency fault) or hung up is expected here, not an error.
        pass


class SimClock:
    def __init__(self, now: datetime, speed: float = 0.0):
        self._base, self._mono, self.speed = now.astimezone(UTC), time.monotonic(), speed

    def now(self) -> datetime:
        return self._base + timedelta(seconds=(time.monotonic() - self._mono) * self.speed)

    def set(self, now: datetime | None = None, speed: float | None = None) -> None:
        current = now.astimezone(UTC) if now else self.now()
        self._base, self._mono = current, time.monotonic()
        if speed is not None:
            self.speed = speed


class PoeWatchServer:
    """The server and its state; ``with PoeWatchServer(market) as server: server.url``."""

    def __init__(self, market: Any, now: datetime | None = None, speed: float = 0.0, host: str = "127.0.0.1",
                 port: int = 0):
        self.market = market
        self.clock = SimClock(now or datetime.now(UTC), speed)
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {}
        self.user_agents: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PoeWatchServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="poe-watch-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api_requests(self) -> int:
        with self._lock:
            return sum(n for path, n in self.requests.items() if not path.startswith("/_control"))

    def state(self) -> dict:
        with self._lock:
            return {"now": self.clock.now().isoformat(), "speed": self.clock.speed,
                    "faults": [asdict(f) for f in self.faults], "requests": dict(self.requests),
                    "user_agents": sorted(self.user_agents)}

    def control(self, change: dict) -> dict:
        """Apply one control object (see the module docstring); returns the new state."""
        with self._lock:
            if change.get("clear_faults"):
                self.faults.clear()
            if "fault" in change:
                self.faults.append(Fault(**change["fault"]))
            if "now" in change or "speed" in change:
                now = datetime.fromisoformat(change["now"]) if "now" in change else None
                self.clock.set(now, change.get("speed"))
            if "advance_seconds" in change:
                self.clock.set(self.clock.now() + timedelta(seconds=float(change["advance_seconds"])))
            if "leagues_file" in change:
                self.market.league_list = json.loads(Path(change["leagues_file"]).read_text())
            if "leagues" in change:
                self.market.league_list = list(change["leagues"])
            if "recompute_seconds" in change:
                self.market.recompute_seconds = int(change["recompute_seconds"])
        return self.state()

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path and not path.startswith(fault.path):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    return None
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def count(self, path: str, user_agent: str) -> None:
        with self._lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            self.user_agents.add(user_agent)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """(status, JSON value) of an API request at the current simulated time."""
        now = self.clock.now()

        def arg(name: str) -> str | None:
            return query.get(name, [None])[0]

        if path == "/leagues":
            return 200, self.market.leagues()
        if path == "/get":
            if not arg("league") or not arg("category"):
                return 400, {"error": "Missing league or category"}
            return 200, self.market.items(arg("league"), arg("category"), now)
        if path == "/history":
            try:
                item_id = int(arg("id") or "")
            except ValueError:
                return 400, {"error": "Missing or invalid id"}
            return 200, self.market.history(arg("league") or "", item_id, now)
        return 404, {"error": f"unknown endpoint {path}"}


def _handler_for(server: PoeWatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "poeconomy-poe-watch/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the demo read the state
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            server.count(parsed.path, self.headers.get("User-Agent", ""))
            if parsed.path == "/_control":
                self._send(200, json.dumps(server.state()).encode())
                return
            fault = server.take_fault(parsed.path)
            if fault and self._fault(fault):
                return
            status, value = server.answer(parsed.path, parse_qs(parsed.query))
            self._send(status, json.dumps(value).encode())

        def do_POST(self) -> None:
            parsed = urlparse(self.path)
            if parsed.path != "/_control":
                self._send(405, b'{"error": "method not allowed"}')
                return
            try:
                change = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                self._send(200, json.dumps(server.control(change)).encode())
            except (ValueError, TypeError, KeyError, OSError) as exc:
                self._send(400, json.dumps({"error": str(exc)}).encode())

        def _fault(self, fault: Fault) -> bool:
            """Apply a fault; True when it answered (or dropped) the request."""
            retry = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            if fault.kind == "latency":
                time.sleep(fault.latency)
                return False
            if fault.kind in ("429", "503"):
                self._send(int(fault.kind), b'{"error": "slow down"}', headers=retry)
            elif fault.kind in ("403", "500"):
                self._send(int(fault.kind), b'{"error": "server error"}')
            elif fault.kind == "malformed":
                self._send(200, b'[{"id": 2, "name": "Divine Orb", "mean": 16')
            elif fault.kind == "html":
                self._send(200, HTML_PAGE, content_type="text/html")
            elif fault.kind == "empty":
                self._send(200, b"")
            elif fault.kind == "null":
                self._send(200, b"null")
            elif fault.kind == "object":
                self._send(200, b'{"error": "Missing league"}')
            elif fault.kind == "drop":
                self.close_connection = True  # no status line at all: the client sees the connection drop
            return True

    return Handler
