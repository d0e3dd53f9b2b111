"""Shared fixtures: real services where the product uses them, skipped visibly when absent."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property-based tests (hypothesis): reproducible and bounded in CI (a fixed seed through derandomize=True, a fixed
# number of examples, no example database, no deadline on a shared 2-core machine); every hypothesis suite
# together stays well under 2 minutes. HYPOTHESIS_PROFILE=deep runs ten times as many examples, randomized.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", derandomize=True, max_examples=150, deadline=None, database=None, suppress_health_check=_QUIET
)
settings.register_profile("deep", max_examples=1500, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--still-running-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="print the tests that have been running for this long, every this many seconds (0: never)",
    )


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


class StillRunning:
    """One line on the terminal every ``every`` seconds while some test has run that long, e.g.
    ``still running: test_live_daemon.py::test_daemon_keeps_… (4 min 00 s)``: a daemon test takes minutes, and
    without it ``make test`` prints nothing meanwhile. It runs where the terminal is (the xdist controller, which
    hears every worker's test start and finish, or the only process without xdist) and writes to a copy of the
    terminal's file descriptor taken before any test ran, so a test's output capture never swallows it."""

    def __init__(self, every: float, out: int):
        self.every, self.out = every, out
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="still-running", daemon=True)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        with self.lock:
            self.started[nodeid] = time.monotonic()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        with self.lock:
            self.started.pop(nodeid, None)

    def loop(self) -> None:
        while not self.stop.wait(self.every):
            now = time.monotonic()
            with self.lock:
                long = sorted(
                    (now - t, nodeid) for nodeid, t in self.started.items() if now - t >= self.every
                )
            if long:
                line = ", ".join(f"{nodeid.split('/')[-1]} ({_minutes(s)})" for s, nodeid in reversed(long))
                try:
                    os.write(self.out, f"\nstill running: {line}\n".encode())
                except OSError:
                    return


def pytest_configure(config: pytest.Config) -> None:
    _interruptible()
    every = config.getoption("--still-running-every", 60.0)
    if every <= 0 or hasattr(config, "workerinput"):  # an xdist worker: its controller reports
        return
    try:
        out = os.dup(sys.__stdout__.fileno())  # capture is suspended here: this is the terminal
    except (AttributeError, OSError, ValueError):
        return
    plugin = StillRunning(every, out)
    config.pluginmanager.register(plugin, "still_running")
    plugin.thread.start()


def _interruptible() -> None:
    """A background shell (``nohup … &``, a CI runner) starts the tests with SIGINT ignored, and Dagster maps
    SIGTERM onto SIGINT's handler (``setup_interrupt_handlers``, called by in-process runs): from then on this
    process ignores SIGTERM and so does every process it spawns, so ``multiprocessing.Pool.terminate()`` cannot stop
    its workers and a test hangs in ``Pool.__exit__`` (seen 2026-12-06 in ``test_optuna_storage``). A Python
    handler is reset to the default in a spawned child, an ignored signal is not: restore Python's own handler."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin("still_running")
    if plugin is not None:
        plugin.stop.set()
        plugin.thread.join(timeout=5)
        os.close(plugin.out)


REAL_DUMPS_DIR = REPO_ROOT.parent / "shared" / "data" / "poe-ninja"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    return os.environ.get("POECONOMY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a PostgreSQL server that answers. Skips (or fails under POECONOMY_REQUIRE_POSTGRES=1)."""
    url = _postgres_url()
    try:
        import psycopg2

        psycopg2.connect(url, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 (any failure to connect means "no server here")
        reason = f"PostgreSQL not reachable at {url}: {exc}".strip()
        if os.environ.get("POECONOMY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"POECONOMY_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return url


DEFAULT_BROKER_URL = "pyamqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND_URL = "redis://127.0.0.1:6379/0"


def _require_services() -> bool:
    return "1" in (os.environ.get("POECONOMY_REQUIRE_BROKER"), os.environ.get("POECONOMY_REQUIRE_POSTGRES"))


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """URL of a RabbitMQ broker that answers (Celery tests). Skips, or fails under POECONOMY_REQUIRE_BROKER=1
    (and POECONOMY_REQUIRE_POSTGRES=1, which .ci/run sets: CI has every service)."""
    url = os.environ.get("POECONOMY_TEST_BROKER_URL", DEFAULT_BROKER_URL)
    try:
        import kombu

        with kombu.Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 (any failure to connect means "no broker here")
        reason = f"RabbitMQ not reachable at {url}: {exc}".strip()
        if _require_services():
            pytest.fail(f"a broker is required in this run but {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a Redis server that answers (the Celery result backend); skips or fails like ``rabbitmq_url``."""
    url = os.environ.get("POECONOMY_TEST_REDIS_URL", DEFAULT_BACKEND_URL)
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        reason = f"Redis not reachable at {url}: {exc}".strip()
        if _require_services():
            pytest.fail(f"a result backend is required in this run but {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def real_dumps_dir() -> Path:
    """../shared/data/poe-ninja when present (never copied into the project)."""
    if not any(REAL_DUMPS_DIR.glob("*.currency.csv")):
        pytest.skip(f"real poe.ninja dumps not found at {REAL_DUMPS_DIR}")
    return REAL_DUMPS_DIR


_SHARED_SPEC_FIXTURES = REPO_ROOT.parent / "shared" / "spec" / "fixtures"
# The spec's composed payloads: ../shared's copy when present (it is the source), else the one shipped here.
SPEC_FIXTURES = (
    _SHARED_SPEC_FIXTURES
    if _SHARED_SPEC_FIXTURES.is_dir()
    else Path(__file__).parent / "fixtures" / "poe_watch"
)
SERVER_NOW = "2025-06-20T12:00:00Z"  # a week into the simulated market's "Simulated" league


@pytest.fixture
def spec_fixture():
    """Load one of the spec's fixture payloads (see SPEC_FIXTURES)."""
    import json

    def load(name: str):
        path = SPEC_FIXTURES / name
        assert path.exists(), f"spec fixture {path} not found"
        return json.loads(path.read_text())

    return load


@pytest.fixture
def poe_watch_server():
    """The project's local POE Watch server on 127.0.0.1 and an ephemeral port, simulated time frozen."""
    from datetime import datetime

    from poeconomy_assets.sim.live_market import SimulatedMarket
    from poeconomy_assets.sim.poe_watch_server import PoeWatchServer

    market = SimulatedMarket(n_currencies=4, seed=5, recompute_seconds=300)
    with PoeWatchServer(market, now=datetime.fromisoformat(SERVER_NOW), fixtures_dir=SPEC_FIXTURES) as server:
        yield server


def fast_client(url: str, tmp_path: Path, **overrides):
    """A PoeWatchClient with tiny backoffs and timeouts, and its own breaker file."""
    from poeconomy_assets.resources.poe_watch import PoeWatchClient

    settings = {
        "base_url": url,
        "min_interval_seconds": 0.0,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "connect_timeout_seconds": 1.0,
        "read_timeout_seconds": 0.3,
        "max_attempts": 3,
        "breaker_threshold": 5,
        "breaker_cooldown_seconds": 0.4,
        "breaker_state_path": str(tmp_path / "breaker.json"),
    }
    return PoeWatchClient(**{**settings, **overrides})
