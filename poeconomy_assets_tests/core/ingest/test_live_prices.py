"""Daily prices from 5-minute snapshots: the dump importer's columns plus how each day was built."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

from poeconomy_assets.core.ingest.live_prices import daily_from_snapshots, parse_slot, slot_key, slot_start
from poeconomy_assets.core.schemas import SNAPSHOT_COLUMNS


def _snap(
    currency: str,
    hh: int,
    mm: int,
    mean: float,
    low: float | None = None,
    high: float | None = None,
    daily: int | None = 100,
    low_confidence: bool = False,
    day: int = 1,
) -> dict:
    return {
        "league": "L",
        "currency": currency,
        "category": "currency",
        "item_id": 1,
        "snapshot_at": datetime(2025, 6, day, hh, mm, tzinfo=UTC),
        "mean_chaos": mean,
        "min_chaos": low,
        "max_chaos": high,
        "daily": daily,
        "low_confidence": low_confidence,
        "payload_hash": "h",
    }


def test_one_row_per_currency_and_day_with_open_close_and_counts() -> None:
    rows = [
        _snap("Divine Orb", 0, 0, 100.0, 95, 120, 900),
        _snap("Divine Orb", 12, 0, 110.0, 90, 115, 1200),
        _snap("Divine Orb", 23, 55, 120.0, None, None, 1000, True),
        _snap("Exalted Orb", 1, 0, 10.0, low_confidence=True),
        _snap("Exalted Orb", 2, 0, 12.0, low_confidence=True),
        _snap("Divine Orb", 0, 5, 130.0, day=2),
        _snap("Exalted Orb", 0, 5, 13.0, day=2),
    ]
    daily = daily_from_snapshots(pl.DataFrame(rows, schema=SNAPSHOT_COLUMNS))
    assert daily.height == 4 and daily.select("currency", "date").is_duplicated().sum() == 0
    divine = daily.filter((pl.col("currency") == "Divine Orb") & (pl.col("date") == date(2025, 6, 1))).row(
        0, named=True
    )
    assert divine["price_chaos"] == pytest.approx(110.0)
    assert (divine["open_chaos"], divine["close_chaos"]) == (100.0, 120.0)
    assert (divine["low_chaos"], divine["high_chaos"]) == (90.0, 120.0)
    assert divine["n_snapshots"] == 3 and divine["volume"] == 1200
    assert divine["low_confidence_share"] == pytest.approx(1 / 3) and divine["confidence"] == "High"
    exalted = daily.filter((pl.col("currency") == "Exalted Orb") & (pl.col("date") == date(2025, 6, 1))).row(
        0, named=True
    )
    assert exalted["confidence"] == "Low" and exalted["price_divine"] == pytest.approx(11.0 / 110.0)
    assert daily.filter(pl.col("date") == date(2025, 6, 2))["league_day"].to_list() == [1, 1]
    assert (daily["source"] == "poe.watch").all()


def test_slots_are_aligned_five_minute_windows() -> None:
    assert slot_key(slot_start(datetime(2025, 6, 1, 10, 7, 59, tzinfo=UTC))) == "2025-06-01T10:05:00Z"
    assert parse_slot("2025-06-01T10:05:00Z") == datetime(2025, 6, 1, 10, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="not aligned"):
        parse_slot("2025-06-01T10:06:00Z")
    with pytest.raises(ValueError, match="no timezone"):
        parse_slot("2025-06-01T10:05:00")
