"""Issue 21: dump files and live history held to one rule, and clear messages for odd files and bodies."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from poeconomy_assets.core.ingest.dumps import DumpError, read_dump_file
from poeconomy_assets.core.ingest.league_dates import MAX_DAYS_FROM_MEDIAN
from poeconomy_assets.core.ingest.poe_watch_payloads import decode_json, parse_history

from ...conftest import fast_client
from .test_dump_edge_cases import HEADER, ROWS, _reasons, _write


def test_a_header_only_dump_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(DumpError, match=r"Heist\.currency\.csv line 2: no data rows after the header"):
        read_dump_file(_write(tmp_path, [HEADER]))
    with pytest.raises(DumpError, match="line 2: no data rows"):
        read_dump_file(_write(tmp_path, [HEADER, "", "   "]))


@pytest.mark.parametrize("value", ["1e300", "1e-320", "5e-324", "1e11", "1.7976931348623157e308"])
def test_an_implausible_value_is_quarantined_and_the_other_rows_kept(tmp_path: Path, value: str) -> None:
    rows = [*ROWS, f"Heist;2020-09-20;Exalted Orb;Chaos Orb;{value};High"]
    imported = read_dump_file(_write(tmp_path, [HEADER, *rows]))
    assert _reasons(imported) == {len(rows) + 1: "implausible price (outside [1e-08, 1e+10])"}
    assert imported.prices.height == len(ROWS)


def test_real_extremes_still_pass(tmp_path: Path) -> None:
    rows = [
        *ROWS,
        "Heist;2020-09-20;Mirror of Kalandra;Chaos Orb;15000000;High",
        "Heist;2020-09-20;Chaos Orb;Mirror of Kalandra;0.00001;High",
    ]
    imported = read_dump_file(_write(tmp_path, [HEADER, *rows]))
    assert imported.quarantine.is_empty() and imported.prices.height == len(ROWS) + 1


def test_cr_only_line_ends_say_so(tmp_path: Path) -> None:
    path = tmp_path / "Heist.currency.csv"
    path.write_bytes(("\r".join([HEADER, *ROWS]) + "\r").encode())
    with pytest.raises(DumpError, match=r"line 1: lines end in a carriage return only \(CR"):
        read_dump_file(path)
    path.write_bytes(("\r\n".join([HEADER, *ROWS]) + "\r\n").encode())  # CRLF is fine
    assert read_dump_file(path).prices.height == len(ROWS)


def test_live_history_points_far_from_the_league_are_unusable_like_in_dumps() -> None:
    days = [{"date": f"2025-06-{d:02d}T22:00:00Z", "mean": 1.0 + d} for d in range(1, 21)]
    far = [{"date": "9999-12-30T22:00:00Z", "mean": 5.0}, {"date": "1970-01-02T22:00:00Z", "mean": 5.0}]
    points, bad = parse_history([*far[:1], *days, *far[1:]], "h")
    assert bad == 2 and len(points) == 20
    assert max(abs((p.day_at - points[10].day_at).days) for p in points) <= MAX_DAYS_FROM_MEDIAN


class _Bom(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = b'\xef\xbb\xbf[{"name": "Settlers"}]'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def bom_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bom)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_utf8_bom_before_json_is_read_once_not_retried(bom_url: str, tmp_path: Path) -> None:
    assert decode_json(b"\xef\xbb\xbf  [1]") == [1]
    fetched = fast_client(bom_url, tmp_path).get_leagues()
    assert fetched.attempts == 1 and fetched.errors == [] and fetched.data == [{"name": "Settlers"}]


def test_a_dump_name_that_grows_past_the_limit_under_nfc_is_quarantined(tmp_path: Path) -> None:
    rows = [*ROWS, "Heist;2020-09-20;" + "\ufb2c" * 34 + ";Chaos Orb;4.0;High"]
    imported = read_dump_file(_write(tmp_path, [HEADER, *rows]))
    assert _reasons(imported) == {len(rows) + 1: "name longer than 100 characters"}
    assert imported.prices.height == len(ROWS)
