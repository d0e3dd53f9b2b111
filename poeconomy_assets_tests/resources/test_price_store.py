"""One contract, two price stores (SQLite embedded, PostgreSQL): every test runs against both."""

import datetime as dt
import multiprocessing
import os
import signal
import time
from pathlib import Path

import polars as pl
import pytest

from poeconomy_assets.resources.price_store import PriceStore
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore

from .store_workers import SLOT, snapshot_rows, upsert_same_slot, upsert_then_hang_before_commit


def _where(store: PriceStore) -> tuple[str, str, str]:
    if isinstance(store, PostgresPriceStore):
        return "postgres", store.url, store.db_schema
    return "embedded", store.path, ""  # type: ignore[attr-defined]


def test_round_trip_and_idempotent_upsert(price_store: PriceStore) -> None:
    rows = snapshot_rows(50, slots=2)
    assert price_store.upsert_snapshots(rows) == 100
    assert price_store.upsert_snapshots(rows) == 0, "re-running the same slots adds nothing"
    stored = price_store.read_snapshots("Settlers")
    assert stored.height == 100
    assert stored.sort("snapshot_at", "currency").equals(rows.sort("snapshot_at", "currency"))
    later = price_store.read_snapshots("Settlers", start=SLOT + dt.timedelta(minutes=5))
    assert later.height == 50
    assert price_store.count_snapshots() == 100 and price_store.count_snapshots("Other") == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop("mean_chaos"), "lack column"),
        (lambda df: df.with_columns(pl.lit(None, pl.Utf8).alias("currency")), "column currency is null"),
        (lambda df: df.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(-1.0).otherwise(pl.col("mean_chaos")).alias("mean_chaos")),
         "snapshot row 3: column mean_chaos = -1.0 is not a positive price"),
        (lambda df: df.with_columns(pl.lit(float("nan")).alias("mean_chaos")), "not a positive price"),
    ],
)
def test_bad_rows_raise_and_store_nothing(price_store: PriceStore, change, message: str) -> None:
    price_store.upsert_snapshots(snapshot_rows(5))
    with pytest.raises(ValueError, match=message):
        price_store.upsert_snapshots(change(snapshot_rows(5, slot=SLOT + dt.timedelta(hours=1))))
    assert price_store.count_snapshots() == 5, "nothing already stored is lost, nothing half-written"


def test_league_names_are_data_not_sql(price_store: PriceStore) -> None:
    evil = "'; DROP TABLE snapshots; --"
    assert price_store.upsert_snapshots(snapshot_rows(3, league=evil)) == 3
    assert price_store.read_snapshots(evil)["league"].unique().to_list() == [evil]
    price_store.replace_daily_prices(evil, _daily(evil))
    assert evil in price_store.leagues() and price_store.count_snapshots() == 3


def test_payload_archive_detects_unchanged_payloads(price_store: PriceStore) -> None:
    now = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
    first = price_store.archive_payload("Settlers", "currency", now, b'[{"id": 1}]')
    same = price_store.archive_payload("Settlers", "currency", now, b'[{"id": 1}]')
    other_category = price_store.archive_payload("Settlers", "fragment", now, b'[{"id": 1}]')
    changed = price_store.archive_payload("Settlers", "currency", now, b'[{"id": 2}]')
    assert not first.unchanged and same.unchanged and not other_category.unchanged and not changed.unchanged
    assert same.hash == first.hash != changed.hash
    assert price_store.last_payload_hash("Settlers", "currency") == changed.hash
    assert price_store.last_payload_hash("Nowhere", "currency") is None


def _daily(league: str, days: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "league": league, "currency": "Divine Orb",
            "date": [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(days)],
            "league_day": list(range(days)), "price_chaos": [100.0 + i for i in range(days)],
            "price_divine": [1.0] * days, "confidence": "High", "source": "poe.watch",
        }
    )


def test_daily_prices_are_replaced_per_league(price_store: PriceStore) -> None:
    price_store.replace_daily_prices("A", _daily("A", 5))
    price_store.replace_daily_prices("B", _daily("B", 2))
    price_store.replace_daily_prices("A", _daily("A", 3))
    assert price_store.read_daily_prices("A").equals(_daily("A", 3))
    assert price_store.read_daily_prices("B").height == 2
    with pytest.raises(ValueError, match="contain rows of league 'B'"):
        price_store.replace_daily_prices("A", _daily("B"))


def test_two_processes_writing_one_slot_store_each_row_once(price_store: PriceStore) -> None:
    kind, where, schema = _where(price_store)
    price_store.ensure_schema()
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # after both interpreters have started
    with context.Pool(2) as pool:
        inserted = pool.starmap(upsert_same_slot, [(kind, where, schema, 2000, start_at)] * 2)
    assert sum(inserted) == 2000, inserted
    stored = price_store.read_snapshots("Settlers")
    assert stored.height == 2000 and stored.select("currency", "snapshot_at").is_duplicated().sum() == 0


def test_a_run_killed_mid_upsert_leaves_the_previous_state_and_the_next_run_completes_it(
    price_store: PriceStore, tmp_path: Path
) -> None:
    kind, where, schema = _where(price_store)
    price_store.upsert_snapshots(snapshot_rows(1000))  # previous state: the first slot
    before = price_store.read_snapshots("Settlers")
    ready = tmp_path / "ready"
    child = multiprocessing.get_context("spawn").Process(
        target=upsert_then_hang_before_commit, args=(kind, where, schema, 1000, str(ready))
    )
    child.start()
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline and child.is_alive():
        time.sleep(0.05)
    assert ready.exists(), "the child never reached the commit"
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    assert price_store.read_snapshots("Settlers").equals(before), "no partial write survives the kill"
    assert price_store.upsert_snapshots(snapshot_rows(1000, slots=2)) == 1000, "the next run adds the missing slot"
    assert price_store.count_snapshots() == 2000
