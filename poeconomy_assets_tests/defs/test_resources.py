"""The resource instances read the environment once, and keep database URLs out of the run config."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from poeconomy_assets.defs.resources import build_resources, price_store_from_env
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore


@pytest.mark.postgres
def test_price_store_url_is_an_env_var_and_still_connects(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("POECONOMY_PRICE_STORE_URL", postgres_url)
    monkeypatch.setenv("POECONOMY_PRICE_STORE_SCHEMA", schema)
    store = price_store_from_env(tmp_path)
    try:
        assert isinstance(store, PostgresPriceStore)
        assert (
            isinstance(store.url, dg.EnvVar) and store.url == "POECONOMY_PRICE_STORE_URL"
        )  # the name, not the URL
        assert (
            store.count_snapshots("Settlers") == 0
        )  # used directly, outside a run: the URL is read from the env
    finally:
        with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.close()


def test_the_breaker_stays_open_for_one_slot_of_the_live_clock(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The cool-down is one slot (300 s) measured on the live clock: 5 minutes of the wall clock in production,
    12.5 s at 24x, and on a stepped clock until it has been moved 300 simulated seconds on."""
    monkeypatch.delenv("POECONOMY_LIVE_CLOCK", raising=False)
    client = build_resources(tmp_path / "wall")["poe_watch"]
    assert (
        client.breaker_cooldown_seconds == 300
        and LiveClock(**json.loads(client.breaker_clock)) == LiveClock()
    )
    before = time.time()
    _open(client)
    assert before <= client.breaker.state().opened_at <= time.time()  # wall-clock seconds, as before

    start = datetime(2025, 6, 20, 12, tzinfo=UTC)
    clock = {"simulated_start": start.isoformat(), "wall_start": time.time(), "speed": 24}
    monkeypatch.setenv("POECONOMY_LIVE_CLOCK", json.dumps(clock))
    resources = build_resources(tmp_path / "fast")
    client = resources["poe_watch"]
    assert resources["live_clock"].speed == 24 and json.loads(client.breaker_clock)["speed"] == 24
    assert client.breaker_cooldown_seconds == 300  # live-clock seconds: 12.5 s on the wall clock at 24x
    _open(client)
    opened = client.breaker.state().opened_at
    assert start.timestamp() <= opened <= resources["live_clock"].now().timestamp()  # on the simulated clock
    assert client.breaker.status() == "open"

    at = datetime(2025, 6, 20, 12, 24, tzinfo=UTC)
    stepped = LiveClock.stepped(tmp_path / "clock", at)
    monkeypatch.setenv("POECONOMY_LIVE_CLOCK", json.dumps({"file": stepped.file}))
    resources = build_resources(tmp_path / "stepped")
    client = resources["poe_watch"]
    assert resources["live_clock"].now() == at
    _open(client)
    assert client.breaker.state().opened_at == at.timestamp()
    for seconds, status in [(0, "open"), (90, "open"), (299, "open"), (300, "half-open"), (900, "half-open")]:
        stepped.step_to(at + timedelta(seconds=seconds))
        assert client.breaker.status() == status, seconds


def _open(client) -> None:
    for _ in range(client.breaker_threshold):
        client.breaker.record_failure("HTTP 500")
    assert client.breaker.status() == "open"
