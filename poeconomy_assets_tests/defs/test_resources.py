"""The resource instances read the environment once, and keep database URLs out of the run config."""

import json
import uuid

import dagster as dg
import psycopg2
import pytest

from poeconomy_assets.defs.resources import build_resources, price_store_from_env
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
    monkeypatch.delenv("POECONOMY_LIVE_CLOCK", raising=False)
    assert build_resources(tmp_path)["poe_watch"].breaker_cooldown_seconds == 300  # the wall clock: 5 minutes
    clock = {"simulated_start": "2025-06-20T12:00:00Z", "wall_start": 0.0, "speed": 24}
    monkeypatch.setenv("POECONOMY_LIVE_CLOCK", json.dumps(clock))
    resources = build_resources(tmp_path)
    assert resources["poe_watch"].breaker_cooldown_seconds == 12.5  # 300 simulated seconds at 24x
    assert resources["live_clock"].speed == 24
