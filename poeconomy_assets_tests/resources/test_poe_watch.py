"""The POE Watch client against the project's local server: one test per fault kind, and the breaker."""

import time
from pathlib import Path

import pytest

from poeconomy_assets.resources.poe_watch import PoeWatchError, PoeWatchUnavailable

from ..conftest import fast_client

TRANSIENT = [
    {"kind": "429", "retry_after": 0.2},
    {"kind": "403"},
    {"kind": "500"},
    {"kind": "503", "retry_after": None},
    {"kind": "malformed"},
    {"kind": "html"},
    {"kind": "empty"},
    {"kind": "drop"},
    {"kind": "latency", "latency": 0.6},  # longer than the client's 0.3 s read timeout
]
MESSAGES = {
    "429": "HTTP 429",
    "403": "HTTP 403",
    "500": "HTTP 500",
    "503": "HTTP 503",
    "malformed": "malformed JSON",
    "html": "HTML page",
    "empty": "empty response body",
    "drop": "connection error",
    "latency": "timeout",
}


@pytest.mark.parametrize("fault", TRANSIENT, ids=[f["kind"] for f in TRANSIENT])
def test_transient_fault_is_retried_then_succeeds(poe_watch_server, tmp_path: Path, fault: dict) -> None:
    client = fast_client(poe_watch_server.url, tmp_path)
    poe_watch_server.control({"fault": {**fault, "times": 2}})
    started = time.perf_counter()
    fetched = client.get_items("Simulated", "currency")
    assert fetched.attempts == 3
    assert isinstance(fetched.data, list) and fetched.data
    assert all(MESSAGES[fault["kind"]] in e for e in fetched.errors), fetched.errors
    if fault["kind"] == "429":  # Retry-After (0.2 s) honoured twice, though the backoff alone is ~0.01 s
        assert time.perf_counter() - started >= 0.4
    assert client.breaker.status() == "closed"


@pytest.mark.parametrize("kind", ["500", "html", "drop"])
def test_persistent_fault_fails_with_a_clear_message(poe_watch_server, tmp_path: Path, kind: str) -> None:
    client = fast_client(poe_watch_server.url, tmp_path)
    poe_watch_server.control({"fault": {"kind": kind, "times": None}})
    with pytest.raises(
        PoeWatchUnavailable, match=rf"failed after 3 attempt\(s\): .*{MESSAGES[kind]}"
    ) as info:
        client.get_items("Simulated", "currency")
    assert info.value.attempts == 3 and info.value.breaker == "closed"


def test_client_errors_are_not_retried(poe_watch_server, tmp_path: Path) -> None:
    client = fast_client(poe_watch_server.url, tmp_path)
    with pytest.raises(PoeWatchError, match="HTTP 404"):
        client.fetch("/nope", {})
    assert poe_watch_server.state()["requests"]["/nope"] == 1


def test_retry_after_beyond_the_limit_gives_up_at_once(poe_watch_server, tmp_path: Path) -> None:
    client = fast_client(poe_watch_server.url, tmp_path, max_retry_after_seconds=1)
    poe_watch_server.control({"fault": {"kind": "429", "retry_after": 3600, "times": None}})
    with pytest.raises(PoeWatchUnavailable, match="Retry-After 3600 s exceeds"):
        client.get_items("Simulated", "currency")
    assert poe_watch_server.api_requests() == 1


def test_circuit_breaker_opens_stops_calling_and_closes_after_cooldown(
    poe_watch_server, tmp_path: Path
) -> None:
    client = fast_client(poe_watch_server.url, tmp_path, breaker_threshold=4)
    poe_watch_server.control({"fault": {"kind": "500", "times": None}})
    with pytest.raises(PoeWatchUnavailable):
        client.get_items("Simulated", "currency")  # 3 failed attempts
    with pytest.raises(PoeWatchUnavailable, match="opened after 4 consecutive failures") as opened:
        client.get_items("Simulated", "currency")  # the 4th opens it
    assert opened.value.breaker == "open" and client.breaker.status() == "open"
    calls = poe_watch_server.api_requests()
    with pytest.raises(PoeWatchUnavailable, match="is open"):
        client.get_items("Simulated", "currency")
    assert poe_watch_server.api_requests() == calls  # open: the server was not called
    # another client (another run process) sharing the state file sees it open too
    assert fast_client(poe_watch_server.url, tmp_path).breaker.status() == "open"

    time.sleep(0.45)  # cool-down over: half-open, one trial call; it fails, so the breaker opens again
    assert client.breaker.status() == "half-open"
    with pytest.raises(PoeWatchUnavailable, match="opened after"):
        client.get_items("Simulated", "currency")
    assert poe_watch_server.api_requests() == calls + 1

    poe_watch_server.control({"clear_faults": True})
    time.sleep(0.45)
    fetched = client.get_items("Simulated", "currency")
    assert fetched.breaker_reclosed and client.breaker.status() == "closed"


def test_requests_are_spaced_and_identify_themselves(poe_watch_server, tmp_path: Path) -> None:
    client = fast_client(poe_watch_server.url, tmp_path, min_interval_seconds=0.15)
    started = time.perf_counter()
    for _ in range(3):
        client.get_leagues()
    assert time.perf_counter() - started >= 0.3
    (agent,) = poe_watch_server.state()["user_agents"]
    assert agent.startswith("poeconomy-assets/") and "contact" in agent


def test_retry_after_as_an_http_date_is_honoured(tmp_path: Path) -> None:
    """RFC 9110 allows ``Retry-After: <HTTP date>``: a real server sends one 2 s ahead with a 503, then answers."""
    import threading
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answered: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answered.append(time.monotonic())
            if len(answered) == 1:
                self.send_response(503)
                retry_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
                    seconds=3
                )  # whole seconds: 2-3 s
                self.send_header("Retry-After", format_datetime(retry_at, usegmt=True))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'[{"name": "Settlers", "start_date": "2024-07-26T20:00:00Z", "end_date": null}]'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            client = fast_client(
                f"http://127.0.0.1:{server.server_address[1]}", tmp_path, read_timeout_seconds=5.0
            )
            fetched = client.get_leagues()
        finally:
            server.shutdown()
    assert fetched.attempts == 2 and fetched.data[0]["name"] == "Settlers"
    assert answered[1] - answered[0] >= 1.9  # waited for the date, not the 0.01-0.05 s backoff
