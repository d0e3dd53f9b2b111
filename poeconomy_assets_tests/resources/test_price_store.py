"""One contract, two price stores (SQLite embedded, PostgreSQL): every test runs against both."""

import datetime as dt
import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import psycopg2
import pytest

from poeconomy_assets.resources.price_store import SNAPSHOT_COLUMNS, PriceStore
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore

from .store_workers import SLOT, make_store, snapshot_rows, upsert_same_slot, upsert_then_hang_before_commit


def archive_at(kind: str, where: str, schema: str, body: bytes, barrier: Any) -> bool:
    """Child process: archive ``body`` as soon as the other process is ready too; returns PayloadRecord.unchanged."""
    store = make_store(kind, where, schema)
    store.ensure_schema()
    barrier.wait(timeout=120)
    return store.archive_payload("Settlers", "currency", dt.datetime.now(dt.UTC), body).unchanged


def _where(store: PriceStore) -> tuple[str, str, str]:
    if isinstance(store, PostgresPriceStore):
        return "postgres", store.url, store.db_schema
    return "embedded", store.path, ""  # type: ignore[attr-defined]


def _version_rows(store: PriceStore) -> list[int]:
    """Every row of schema_version, read behind the store's back (duplicates would show here)."""
    if isinstance(store, PostgresPriceStore):
        with psycopg2.connect(store.url) as connection, connection.cursor() as cursor:
            cursor.execute(f'SELECT version FROM "{store.db_schema}".schema_version ORDER BY version')
            rows = cursor.fetchall()
        connection.close()
    else:
        with sqlite3.connect(store.path) as connection:  # type: ignore[attr-defined]
            rows = connection.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    return [r[0] for r in rows]


def _set_row(column: str, value: object, row: int = 3) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda df: df.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


def test_round_trip_and_idempotent_upsert(price_store: PriceStore) -> None:
    rows = snapshot_rows(50, slots=2)
    assert price_store.upsert_snapshots(rows) == 100
    assert price_store.upsert_snapshots(rows) == 0, "re-running the same slots adds nothing"
    stored = price_store.read_snapshots("Settlers")
    assert stored.schema == pl.Schema(SNAPSHOT_COLUMNS)
    assert stored.equals(rows.sort("snapshot_at", "currency")), (
        "ordered by snapshot_at, currency; values exact"
    )
    later = price_store.read_snapshots("Settlers", start=SLOT + dt.timedelta(minutes=5))
    first = price_store.read_snapshots("Settlers", end=SLOT + dt.timedelta(minutes=5))
    assert later.height == first.height == 50 and first["snapshot_at"].unique().to_list() == [SLOT]
    assert price_store.count_snapshots() == 100 and price_store.count_snapshots("Other") == 0
    assert price_store.read_snapshots("Other").schema == pl.Schema(SNAPSHOT_COLUMNS)
    assert price_store.leagues() == ["Settlers"]


def test_overlapping_batches_insert_only_new_keys(price_store: PriceStore) -> None:
    assert price_store.upsert_snapshots(snapshot_rows(10, slots=2)) == 20
    assert price_store.upsert_snapshots(snapshot_rows(15, slots=3)) == 45 - 20
    assert price_store.upsert_snapshots(snapshot_rows(0)) == 0, "an empty batch is fine"


def test_loose_but_unambiguous_input_is_accepted(price_store: PriceStore) -> None:
    """Extra columns are ignored, nullable columns may be all-null, any timezone is stored as UTC."""
    paris = dt.timezone(dt.timedelta(hours=1))
    rows = snapshot_rows(4).with_columns(
        pl.lit(None).alias("min_chaos"),
        pl.lit(None).alias("daily"),
        pl.lit("x").alias("name"),
        pl.col("snapshot_at").dt.convert_time_zone("Europe/Paris"),
        pl.col("item_id").cast(pl.Int32),
    )
    assert price_store.upsert_snapshots(rows) == 4
    stored = price_store.read_snapshots("Settlers", start=SLOT.astimezone(paris))
    assert stored.height == 4 and stored["min_chaos"].is_null().all() and stored["daily"].is_null().all()
    assert stored["snapshot_at"].to_list() == [SLOT] * 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop("mean_chaos"), r"lack column\(s\) \['mean_chaos'\]"),
        (
            lambda df: df.with_columns(pl.lit(None, pl.Utf8).alias("currency")),
            "row 0: column currency is null",
        ),
        (_set_row("snapshot_at", None), "row 3: column snapshot_at is null"),
        (_set_row("currency", "  "), "row 3: column currency = '  ' is empty"),
        (_set_row("mean_chaos", -1.0), "row 3: column mean_chaos = -1.0 is not a positive price"),
        (_set_row("mean_chaos", 0.0), "row 3: column mean_chaos = 0.0 is not a positive price"),
        (_set_row("mean_chaos", float("nan")), "row 3: column mean_chaos = nan is not a positive price"),
        (_set_row("min_chaos", -0.5), "row 3: column min_chaos = -0.5 is not a finite price"),
        (_set_row("daily", -2), "row 3: column daily = -2 is negative"),
        (_set_row("currency", "Currency 0"), r"rows \[0, 3\] share the key .*'Currency 0'"),
        (lambda df: df.with_columns(pl.col("mean_chaos").cast(pl.Utf8)), "column mean_chaos has type String"),
        (
            lambda df: df.with_columns(pl.col("item_id") + 0.5),
            "column item_id has type Float64; expected Int64",
        ),
        (
            lambda df: df.with_columns(pl.col("snapshot_at").dt.replace_time_zone(None)),
            "column snapshot_at has type .*expected a timezone-aware Datetime",
        ),
    ],
)
def test_bad_rows_raise_and_store_nothing(price_store: PriceStore, change, message: str) -> None:
    price_store.upsert_snapshots(snapshot_rows(5))
    with pytest.raises(ValueError, match=message):
        price_store.upsert_snapshots(change(snapshot_rows(5, slot=SLOT + dt.timedelta(hours=1))))
    assert price_store.count_snapshots() == 5, "nothing already stored is lost, nothing half-written"


def test_naive_datetimes_are_refused_not_guessed(price_store: PriceStore) -> None:
    naive = dt.datetime(2026, 11, 24)
    with pytest.raises(ValueError, match="start = .* is naive"):
        price_store.read_snapshots("Settlers", start=naive)
    with pytest.raises(ValueError, match="fetched_at = .* is naive"):
        price_store.archive_payload("Settlers", "currency", naive, b"[]")


def test_league_names_are_data_not_sql(price_store: PriceStore) -> None:
    evil = "'; DROP TABLE snapshots; --"
    other = "Robert'); DROP TABLE prices; --"
    assert price_store.upsert_snapshots(snapshot_rows(3, league=evil)) == 3
    assert price_store.upsert_snapshots(snapshot_rows(2, league=other)) == 2
    assert price_store.read_snapshots(evil)["league"].unique().to_list() == [evil]
    assert price_store.count_snapshots(evil) == 3 and price_store.count_snapshots(other) == 2
    price_store.archive_payload(evil, evil, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), b"{}")
    assert price_store.last_payload_hash(evil, evil) is not None
    price_store.replace_daily_prices(evil, _daily(evil))
    assert price_store.leagues() == sorted([evil, other]) and price_store.count_snapshots() == 5


def test_payload_archive_detects_unchanged_payloads(price_store: PriceStore) -> None:
    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    first = price_store.archive_payload("Settlers", "currency", now, b'[{"id": 1}]')
    same = price_store.archive_payload("Settlers", "currency", now, b'[{"id": 1}]')
    other_category = price_store.archive_payload("Settlers", "fragment", now, b'[{"id": 1}]')
    changed = price_store.archive_payload("Settlers", "currency", now, b'[{"id": 2}]')
    assert not first.unchanged and same.unchanged and not other_category.unchanged and not changed.unchanged
    assert same.hash == first.hash != changed.hash
    assert len({first.payload_id, same.payload_id, other_category.payload_id, changed.payload_id}) == 4
    assert price_store.last_payload_hash("Settlers", "currency") == changed.hash
    assert price_store.last_payload_hash("Nowhere", "currency") is None


def test_two_processes_archiving_one_payload_at_once_see_each_other(price_store: PriceStore) -> None:
    kind, where, schema = _where(price_store)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        barrier = manager.Barrier(2)  # each task blocks until the other one runs: one per process, at once
        unchanged = pool.starmap_async(
            archive_at, [(kind, where, schema, b'[{"id": 7}]', barrier)] * 2, chunksize=1
        ).get(timeout=600)
    assert sorted(unchanged) == [False, True], "exactly one of them archived it first"


def test_schema_is_created_once_and_migrated_in_place(price_store: PriceStore) -> None:
    assert price_store.schema_version() == 0
    price_store._migrate(target=1)  # type: ignore[attr-defined]  # a store written by the first release
    price_store.upsert_snapshots(snapshot_rows(3))  # ensure_schema migrates it to the current version
    price_store.ensure_schema()
    price_store._migrate()  # type: ignore[attr-defined]  # again, bypassing the per-process cache
    assert _version_rows(price_store) == [1, 2] and price_store.schema_version() == 2
    assert price_store.count_snapshots() == 3, "migrating keeps the data"


def _daily(league: str, days: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "league": league,
            "currency": "Divine Orb",
            "date": [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(days)],
            "league_day": list(range(days)),
            "price_chaos": [100.0 + i for i in range(days)],
            "price_divine": [1.0] * days,
            "confidence": "High",
            "source": "poe.watch",
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
    """Both start on an empty store, so they also race to create the schema."""
    kind, where, schema = _where(price_store)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        barrier = manager.Barrier(2)  # released once both interpreters have started and built their rows
        inserted = pool.starmap_async(
            upsert_same_slot, [(kind, where, schema, 2000, barrier)] * 2, chunksize=1
        ).get(timeout=600)
    assert sum(inserted) == 2000, inserted
    stored = price_store.read_snapshots("Settlers")
    assert stored.height == 2000 and stored.select("currency", "snapshot_at").is_duplicated().sum() == 0
    assert _version_rows(price_store) == [1, 2], "the schema was migrated exactly once"


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
    assert price_store.upsert_snapshots(snapshot_rows(1000, slots=2)) == 1000, (
        "the next run adds the missing slot"
    )
    assert price_store.count_snapshots() == 2000
