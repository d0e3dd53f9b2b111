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

``/_control`` is guarded: every request needs the header ``X-Control-Token`` (the token is
``POECONOMY_CONTROL_TOKEN`` when set, else generated and printed by ``poeconomy serve-api``); ``leagues_file`` is
a file inside the ``fixtures_dir`` given at start (none given: no file is ever read); every value is validated
before any state changes (one bad value and nothing is applied); a malformed body gets 400, a body over 64 KiB 413.
"""

import hmac
import json
import math
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

CONTROL_TOKEN_ENV = "POECONOMY_CONTROL_TOKEN"
MAX_CONTROL_BODY = 64 * 1024
CONTROL_KEYS = (
    "fault",
    "clear_faults",
    "advance_seconds",
    "now",
    "speed",
    "leagues",
    "leagues_file",
    "recompute_seconds",
)
FAULT_KINDS = ("latency", "429", "403", "500", "503", "malformed", "html", "empty", "null", "object", "drop")
# Simulated time stays in [SIM_MIN, SIM_MAX]: a control request outside is refused whole, and a fast clock stops at
# SIM_MAX instead of overflowing datetime (which dropped every later request's connection).
SIM_MIN = datetime(2000, 1, 1, tzinfo=UTC)
SIM_MAX = datetime(2100, 1, 1, tzinfo=UTC)
# What the server remembers of its callers is bounded (20,000 distinct paths once took RSS from 346 to 513 MB):
# at most this many distinct paths and user agents (each cut to MAX_LOGGED_CHARS); the rest are counted.
MAX_TRACKED_PATHS = 256
MAX_USER_AGENTS = 64
MAX_LOGGED_CHARS = 200
OTHER_PATHS = "(other paths)"
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
        if self.times is not None:
            self.times = int(_number(self.times, "fault.times", 0, 1e9, integer=True))
        if self.retry_after is not None:
            self.retry_after = _number(self.retry_after, "fault.retry_after", 0, 3600)
        self.latency = _number(self.latency, "fault.latency", 0, 600)
        self.after = int(_number(self.after, "fault.after", 0, 1e9, integer=True))
        if self.path is not None and not isinstance(self.path, str):
            raise ValueError(f"fault.path must be a string, not {self.path!r}")


class ControlError(ValueError):
    """A control request that is refused; nothing of it was applied."""


def _number(value: Any, name: str, low: float, high: float, integer: bool = False) -> float:
    """``value`` as a finite number in [low, high] (an int when ``integer``), else ControlError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"{name} must be a finite number, not {value!r}")
    if integer and value != int(value):
        raise ControlError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ControlError(f"{name} = {value!r} is outside [{low:g}, {high:g}]")
    return float(value)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out (the latency fault) or hung up is expected here, not an error.
        pass


class SimClock:
    def __init__(self, now: datetime, speed: float = 0.0):
        self._base, self._mono, self.speed = now.astimezone(UTC), time.monotonic(), speed

    def now(self) -> datetime:
        """The simulated time, never past SIM_MAX (a clock at speed 1e6 stops there rather than overflow)."""
        elapsed = (time.monotonic() - self._mono) * self.speed
        return self._base + timedelta(seconds=min(elapsed, max(0.0, (SIM_MAX - self._base).total_seconds())))

    def set(self, now: datetime | None = None, speed: float | None = None) -> None:
        current = now.astimezone(UTC) if now else self.now()
        self._base, self._mono = current, time.monotonic()
        if speed is not None:
            self.speed = speed


class PoeWatchServer:
    """The server and its state; ``with PoeWatchServer(market) as server: server.url``."""

    def __init__(
        self,
        market: Any,
        now: datetime | None = None,
        speed: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        fixtures_dir: Path | None = None,
        control_token: str | None = None,
    ):
        self.market = market
        self.fixtures_dir = Path(fixtures_dir).resolve() if fixtures_dir else None
        self.control_token = control_token or os.environ.get(CONTROL_TOKEN_ENV) or secrets.token_urlsafe(24)
        self.clock = SimClock(now or datetime.now(UTC), speed)
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {}  # at most MAX_TRACKED_PATHS paths, then OTHER_PATHS
        self.user_agents: set[str] = set()  # at most MAX_USER_AGENTS, each cut to MAX_LOGGED_CHARS
        self.user_agents_not_kept = 0
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PoeWatchServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="poe-watch-server",
            daemon=True,
        )
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
            return {
                "now": self.clock.now().isoformat(),
                "speed": self.clock.speed,
                "faults": [asdict(f) for f in self.faults],
                "requests": dict(self.requests),
                "user_agents": sorted(self.user_agents),
                "user_agents_not_kept": self.user_agents_not_kept,
            }

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.control_token.encode())

    def _validated(self, change: Any) -> dict:
        """Every value of a control object checked and converted; raises ControlError before anything changes."""
        if not isinstance(change, dict):
            raise ControlError(f"the control body must be a JSON object, not {type(change).__name__}")
        unknown = sorted(set(change) - set(CONTROL_KEYS))
        if unknown:
            raise ControlError(f"unknown control key(s) {unknown}; known: {list(CONTROL_KEYS)}")
        out: dict[str, Any] = {}
        if "clear_faults" in change:
            if not isinstance(change["clear_faults"], bool):
                raise ControlError("clear_faults must be true or false")
            out["clear_faults"] = change["clear_faults"]
        if "fault" in change:
            if not isinstance(change["fault"], dict):
                raise ControlError('fault must be an object, e.g. {"kind": "429"}')
            try:
                out["fault"] = Fault(**change["fault"])
            except TypeError as exc:
                raise ControlError(f"fault: {exc}") from None
        if "now" in change:
            try:
                now = datetime.fromisoformat(change["now"]) if isinstance(change["now"], str) else None
            except ValueError:
                now = None
            if now is None or now.tzinfo is None:
                raise ControlError(f"now must be an ISO-8601 time with a timezone, not {change['now']!r}")
            try:
                now = now.astimezone(UTC)  # year 1 at +14:00 is before the first datetime in UTC
            except OverflowError:
                now = None
            if now is None or not SIM_MIN <= now <= SIM_MAX:
                raise ControlError(
                    f"now = {change['now']!r} is outside [{SIM_MIN:%Y-%m-%d}, {SIM_MAX:%Y-%m-%d}]"
                )
            out["now"] = now
        if "speed" in change:
            out["speed"] = _number(change["speed"], "speed", 0, 1e6)
        if "advance_seconds" in change:
            out["advance_seconds"] = _number(
                change["advance_seconds"], "advance_seconds", 0, 10 * 365 * 86400
            )
        if "recompute_seconds" in change:
            out["recompute_seconds"] = int(
                _number(change["recompute_seconds"], "recompute_seconds", 1, 1e7, integer=True)
            )
        if "leagues" in change:
            out["leagues"] = self._league_list(change["leagues"], "leagues")
        if "leagues_file" in change:
            out["leagues"] = self._league_list(self._read_fixture(change["leagues_file"]), "leagues_file")
        return out

    def _read_fixture(self, name: Any) -> Any:
        if self.fixtures_dir is None:
            raise ControlError("leagues_file is disabled: the server was started without a fixtures folder")
        if not isinstance(name, str) or not name:
            raise ControlError("leagues_file must be a file name in the fixtures folder")
        path = (self.fixtures_dir / name).resolve()
        if not path.is_relative_to(self.fixtures_dir) or not path.is_file():
            raise ControlError(
                f"leagues_file {name!r} is not a file inside the fixtures folder {self.fixtures_dir}"
            )
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ControlError(f"leagues_file {name!r} is not readable JSON: {exc}") from None

    @staticmethod
    def _league_list(value: Any, name: str) -> list:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise ControlError(f"{name} must be a JSON list of league objects")
        return value

    def control(self, change: Any) -> dict:
        """Apply one control object (see the module docstring) all or nothing; returns the new state.

        Raises ControlError (nothing applied) when any value is invalid."""
        valid = self._validated(change)
        with self._lock:
            # Everything that can fail is computed first: a refused request changes nothing at all.
            now = valid.get("now")
            if "advance_seconds" in valid:
                now = (now or self.clock.now()) + timedelta(seconds=valid["advance_seconds"])
                if now > SIM_MAX:
                    raise ControlError(
                        f"advance_seconds = {valid['advance_seconds']:g} would take the simulated "
                        f"time past {SIM_MAX:%Y-%m-%d}"
                    )
            if valid.get("clear_faults"):
                self.faults.clear()
            if "fault" in valid:
                self.faults.append(valid["fault"])
            if now is not None or "speed" in valid:
                self.clock.set(now, valid.get("speed"))
            if "leagues" in valid:
                self.market.league_list = valid["leagues"]
            if "recompute_seconds" in valid:
                self.market.recompute_seconds = valid["recompute_seconds"]
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
        """Count a request (bounded: see MAX_TRACKED_PATHS and MAX_USER_AGENTS)."""
        path, user_agent = path[:MAX_LOGGED_CHARS], user_agent[:MAX_LOGGED_CHARS]
        with self._lock:
            if path not in self.requests and len(self.requests) >= MAX_TRACKED_PATHS:
                path = OTHER_PATHS
            self.requests[path] = self.requests.get(path, 0) + 1
            if user_agent in self.user_agents:
                return
            if len(self.user_agents) < MAX_USER_AGENTS:
                self.user_agents.add(user_agent)
            else:
                self.user_agents_not_kept += 1

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

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
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
                if self._authorized():
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
            if not self._authorized():
                return
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit():
                self._send(400, json.dumps({"error": f"bad Content-Length {length[:40]!r}"}).encode())
                return
            if int(length) > MAX_CONTROL_BODY:
                self.close_connection = True
                self._send(413, json.dumps({"error": f"control body over {MAX_CONTROL_BODY} bytes"}).encode())
                return
            try:
                change = json.loads(self.rfile.read(int(length)).decode("utf-8") or "{}")
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                self._send(400, json.dumps({"error": f"the body is not JSON: {exc}"}).encode())
                return
            try:
                self._send(200, json.dumps(server.control(change)).encode())
            except ValueError as exc:  # ControlError and Fault's own checks: nothing was applied
                self._send(400, json.dumps({"error": str(exc)}).encode())

        def _authorized(self) -> bool:
            if server.token_ok(self.headers.get("X-Control-Token")):
                return True
            self._send(403, b'{"error": "missing or wrong X-Control-Token header (the control token)"}')
            return False

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
