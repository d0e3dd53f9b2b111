"""Functions run in child processes by the price store tests (importable, so 'spawn' can find them)."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from poeconomy_assets.resources.price_store import PriceStore
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore

SLOT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def snapshot_rows(n: int, league: str = "Settlers", slot: datetime = SLOT, slots: int = 1) -> pl.DataFrame:
    """n currencies × ``slots`` consecutive 5-minute slots of made-up snapshot rows."""
    times = [slot + timedelta(minutes=5 * i) for i in range(slots)]
    return pl.DataFrame(
        {
            "league": league,
            "currency": [f"Currency {i}" for i in range(n)] * slots,
            "category": "currency",
            "item_id": list(range(n)) * slots,
            "snapshot_at": [t for t in times for _ in range(n)],
            "mean_chaos": [1.0 + i for i in range(n)] * slots,
            "min_chaos": [0.5 + i for i in range(n)] * slots,
            "max_chaos": [2.0 + i for i in range(n)] * slots,
            "daily": [10] * n * slots,
            "low_confidence": [i % 7 == 0 for i in range(n)] * slots,
            "payload_hash": "abc",
        },
        schema_overrides={"snapshot_at": pl.Datetime("us", "UTC")},
    )


def make_store(kind: str, where: str, schema: str = "poeconomy") -> PriceStore:
    if kind == "postgres":
        return PostgresPriceStore(url=where, db_schema=schema)
    return EmbeddedPriceStore(path=where)


def upsert_same_slot(kind: str, where: str, schema: str, n: int, barrier: Any) -> int:
    store = make_store(kind, where, schema)
    rows = snapshot_rows(n)
    barrier.wait(timeout=120)  # both processes start the write together (a Manager barrier)
    return store.upsert_snapshots(rows)


def upsert_then_hang_before_commit(kind: str, where: str, schema: str, n: int, ready_file: str) -> None:
    store = make_store(kind, where, schema)

    def hang() -> None:
        Path(ready_file).write_text("inside the transaction")
        time.sleep(120)  # the parent SIGKILLs us here

    store.upsert_snapshots(snapshot_rows(n, slots=2), before_commit=hang)
