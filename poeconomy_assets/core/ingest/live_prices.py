"""Daily prices of a live league from its 5-minute snapshots, in the shape the dump importer produces.

``price_chaos`` is the mean of the day's snapshot means (each 5-minute slot weighs the same), so a
live day and a poe.ninja day mean the same thing. Extra columns say how the day was built: open and
close (first and last snapshot), low and high (lowest ``min`` / highest ``max`` the API reported, else the
means), ``n_snapshots``, ``low_confidence_share`` and ``volume`` (the day's largest "listings in the last
24 h" count).
"""

from datetime import UTC, datetime

import polars as pl

from poeconomy_assets.core.prices import add_divine_prices, add_league_day
from poeconomy_assets.core.schemas import DAILY_COLUMNS, MARKET_SIDE_COLUMNS

SLOT_SECONDS = 300
LIVE_COLUMNS = [
    "open_chaos",
    "close_chaos",
    "low_chaos",
    "high_chaos",
    "n_snapshots",
    "low_confidence_share",
    "volume",
]
LOW_CONFIDENCE_MAJORITY = 0.5


def slot_start(moment: datetime, seconds: int = SLOT_SECONDS) -> datetime:
    """The start of the slot that holds ``moment`` (UTC, aligned to the epoch)."""
    ts = moment.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(ts - ts % seconds, UTC)


def slot_key(slot: datetime) -> str:
    """A slot as text for run keys and config: ``2025-06-14T10:05:00Z``."""
    return slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_slot(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"slot {text!r} has no timezone; use e.g. 2025-06-14T10:05:00Z")
    aligned = slot_start(value)
    if aligned != value.astimezone(UTC):
        raise ValueError(
            f"slot {text!r} is not aligned to {SLOT_SECONDS} s (nearest start {slot_key(aligned)})"
        )
    return aligned


def daily_from_snapshots(snapshots: pl.DataFrame) -> pl.DataFrame:
    """DailyPrices rows (plus LIVE_COLUMNS) for every (league, currency, UTC day) with snapshots."""
    if snapshots.is_empty():
        return pl.DataFrame()
    ordered = snapshots.sort("league", "currency", "snapshot_at").with_columns(
        pl.col("snapshot_at").dt.convert_time_zone("UTC").dt.date().alias("date")
    )
    daily = ordered.group_by("league", "currency", "date", maintain_order=True).agg(
        pl.col("mean_chaos").mean().alias("price_chaos"),
        pl.col("mean_chaos").first().alias("open_chaos"),
        pl.col("mean_chaos").last().alias("close_chaos"),
        pl.min_horizontal(pl.col("min_chaos").min(), pl.col("mean_chaos").min()).alias("low_chaos"),
        pl.max_horizontal(pl.col("max_chaos").max(), pl.col("mean_chaos").max()).alias("high_chaos"),
        pl.len().cast(pl.Int64).alias("n_snapshots"),
        pl.col("low_confidence").cast(pl.Float64).mean().alias("low_confidence_share"),
        pl.col("daily").max().alias("volume"),
    )
    daily = daily.with_columns(
        pl.when(pl.col("low_confidence_share") > LOW_CONFIDENCE_MAJORITY)
        .then(pl.lit("Low"))
        .otherwise(pl.lit("High"))
        .alias("confidence"),
        pl.lit("poe.watch").alias("source"),
        # POE Watch reports one price per item, not both sides of the market: no buy side, no spread.
        pl.lit(None, dtype=pl.Float64).alias("buy_price_chaos"),
        pl.lit(None, dtype=pl.Utf8).alias("buy_confidence"),
        pl.lit(None, dtype=pl.Float64).alias("log_spread"),
    )
    daily = add_divine_prices(add_league_day(daily))
    return daily.select(*DAILY_COLUMNS, *MARKET_SIDE_COLUMNS, *LIVE_COLUMNS).sort(
        "league", "currency", "date"
    )
