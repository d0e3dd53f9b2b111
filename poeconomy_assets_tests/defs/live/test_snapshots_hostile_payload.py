"""A payload with hostile rows, served over real HTTP, stores its valid rows and names every skip in metadata."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from poeconomy_assets.core.keys import key_from_name

from ...conftest import fast_client
from ..conftest import Live

GOOD = [
    {
        "id": 1,
        "name": "Divine Orb",
        "category": "currency",
        "mean": 150.0,
        "min": 140,
        "max": 160,
        "daily": 900,
        "lowConfidence": False,
    },
    {
        "id": 2,
        "name": "Exalted Orb",
        "category": "currency",
        "mean": 12.0,
        "min": 11,
        "max": 13,
        "daily": 500,
        "lowConfidence": False,
    },
]
HOSTILE = [
    '{"id": 9223372036854775808, "name": "Big Id Orb", "mean": 1}',
    '{"id": 10, "name": "Big Daily Orb", "mean": 1, "daily": 9223372036854775808}',
    '{"id": 11, "name": "Huge Orb", "mean": 1.7e308}',
    '{"id": 12, "name": "NaN Orb", "mean": NaN}',
    '{"id": 13, "name": "Nul\\u0000Orb", "mean": 1}',
    '{"id": 14, "name": "' + "L" * 1_000_000 + '", "mean": 1}',
    '{"id": 15, "name": "Deep Orb", "mean": 1, "history": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"id": 16, "name": "X \\ud800", "mean": 1}',  # a lone surrogate: lost the whole payload before issue 21
    '{"id": 17, "name": "' + "\\ufb2c" * 34 + '", "mean": 1}',  # 34 characters, 102 after NFC
]
BODY = ("[" + ", ".join([*map(json.dumps, GOOD), *HOSTILE]) + "]").encode()


class Hostile(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = BODY if "category=currency" in self.path else b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hostile_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hostile_rows_are_named_skips_and_the_valid_rows_are_stored(
    live: Live, hostile_url: str, tmp_path: Path
) -> None:
    client = fast_client(hostile_url, tmp_path, read_timeout_seconds=5.0)
    live.resources = {**live.resources, "poe_watch": client}
    live.instance.add_dynamic_partitions("league", [key_from_name("Simulated")])
    result = live.defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=live.instance,
        partition_key="Simulated",
        run_config={"ops": {"poe_watch_snapshots": {"config": {"slot": "2025-06-20T12:00:00Z"}}}},
    )
    event = result.asset_materializations_for_node("poe_watch_snapshots")[0]
    metadata = {k: v.value for k, v in event.metadata.items()}
    assert metadata["rows_received"] == 11 and metadata["rows_inserted"] == 2
    assert metadata["rows_number_out_of_range"] == 3 and metadata["rows_non_numeric"] == 1
    assert metadata["rows_bad_name"] == 2 and metadata["rows_name_too_long"] == 2
    assert "\\ud800" in metadata["problems"] and metadata["rows_unstorable_row"] == 0
    assert metadata["rows_too_deeply_nested"] == 1
    assert "too_deeply_nested" in metadata["problems"] and "L" * 200 not in metadata["problems"]
    assert metadata["circuit_breaker"] == "closed" and client.breaker.state().consecutive_failures == 0
    stored = live.store().read_snapshots("Simulated")
    assert sorted(stored["currency"]) == ["Divine Orb", "Exalted Orb"]
    assert isinstance(result, dg.ExecuteInProcessResult) and result.success
