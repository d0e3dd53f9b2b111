"""The client's limits against a real hostile HTTP server on 127.0.0.1: body cap, decompressed cap, deadline."""

import functools
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from poeconomy_assets.resources.poe_watch import PoeWatchError, PoeWatchUnavailable

from ..conftest import fast_client

MB = 1 << 20


@functools.cache
def _gzip_bomb(inflated: int) -> bytes:
    """A gzip body that inflates to ``inflated`` bytes of a JSON list of spaces (~1000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(b"[")]
    block = b" " * MB
    parts += [compressor.compress(block) for _ in range(inflated // MB)]
    parts += [compressor.compress(b"]"), compressor.flush()]
    return b"".join(parts)


BOMB_SIZE = 200 * MB


class Hostile(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        try:
            if self.path.startswith("/bomb"):
                bomb = _gzip_bomb(BOMB_SIZE)
                self._head(len(bomb), gzip=True)
                self.wfile.write(bomb)
            elif self.path.startswith("/huge"):  # 8 MB of plain JSON, no Content-Length (chunked by closing)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"[" + b"1," * (4 * MB) + b"1]")
            elif self.path.startswith("/drip"):  # a valid body, one byte a second
                body = b'[{"id": 1, "name": "Divine Orb", "mean": 150}]'
                self._head(len(body))
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1.0)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _head(self, length: int, gzip: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        if gzip:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()


@pytest.fixture
def hostile_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_gzip_bomb_is_refused_without_inflating_it(hostile_url: str, tmp_path: Path) -> None:
    assert len(_gzip_bomb(BOMB_SIZE)) < 300_000
    client = fast_client(hostile_url, tmp_path, read_timeout_seconds=5.0)  # default caps
    with pytest.raises(PoeWatchError, match="decompressed body exceeds"):
        client.fetch("/bomb", {})


def test_a_body_over_the_cap_is_refused(hostile_url: str, tmp_path: Path) -> None:
    client = fast_client(hostile_url, tmp_path, read_timeout_seconds=5.0, max_body_bytes=1 * MB)
    with pytest.raises(PoeWatchError, match="body exceeds 1048576 bytes"):
        client.fetch("/huge", {})


def test_a_server_dripping_a_byte_a_second_hits_the_deadline(hostile_url: str, tmp_path: Path) -> None:
    client = fast_client(
        hostile_url, tmp_path, read_timeout_seconds=5.0, request_deadline_seconds=2.0, max_attempts=2
    )
    started = time.monotonic()
    with pytest.raises(PoeWatchUnavailable, match="deadline of 2 s") as caught:
        client.fetch("/drip", {})
    assert time.monotonic() - started < 2 * 2.0 + 3.0  # two attempts, each cut at its deadline
    assert caught.value.attempts == 2
