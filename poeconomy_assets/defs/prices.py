"""Daily prices per league: the one price history that features and models read."""

import dagster as dg
import polars as pl

from poeconomy_assets.core.ingest import daily_from_snapshots
from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.report import frame_to_markdown
from poeconomy_assets.core.schemas import DailyPrices
from poeconomy_assets.defs.batching import ONE_RUN, partition_metadata, run_partition_keys, run_value
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec
from poeconomy_assets.defs.partitions import league_partitions
from poeconomy_assets.resources.parquet_io_manager import ByPartition
from poeconomy_assets.resources.price_store import PriceStore


@dg.asset(
    group_name="prices",
    partitions_def=league_partitions,
    backfill_policy=ONE_RUN,  # every league of a backfill in one run: the dump table is read once
    check_specs=[schema_check_spec("daily_prices", DailyPrices)],
    # A live league's prices come from the price store, which these two fill (no IO-manager input:
    # past leagues never have them).
    deps=["poe_watch_snapshots", "poe_watch_history"],
    kinds={"polars", "parquet"},
)
def daily_prices(  # no return annotation: Dagster reads one as the type of every output, checks included
    context: dg.AssetExecutionContext, poe_ninja_history: pl.DataFrame, price_store: PriceStore
):
    """One chaos (and divine) price per currency and day for each league of the run.

    Past leagues come from the poe.ninja dumps; a league that is not in them (a live one) is built from its
    POE Watch snapshots and ``/history`` days, with the same columns plus open/close/low/high, snapshot count,
    low-confidence share and volume.
    """
    values = ByPartition()
    for key in run_partition_keys(context):
        values[key] = league_prices(key, poe_ninja_history, price_store, context)
    written = pl.concat(list(values.values()), how="diagonal_relaxed")
    return dg.MaterializeResult(
        value=run_value(values),
        metadata={"leagues_in_run": len(values), "rows": written.height},
        check_results=[schema_check_result("daily_prices", DailyPrices, written)],
    )


def league_prices(
    key: str, poe_ninja_history: pl.DataFrame, price_store: PriceStore, context: dg.AssetExecutionContext
) -> pl.DataFrame:
    """One league's daily prices, stored in the price store, with its metadata on its own partition."""
    league = name_from_key(key)
    prices = poe_ninja_history.filter(pl.col("league") == league).sort("currency", "date")
    source, snapshots = "poe.ninja dumps", 0
    if prices.is_empty():
        live = price_store.read_snapshots(league)
        snapshots = live.height
        prices, source = daily_from_snapshots(live), "POE Watch snapshots"
    if prices.is_empty():
        raise ValueError(
            f"no price rows for league {league!r}: it is not in the dump directory and has no "
            "POE Watch snapshots (materialize poe_watch_history / poe_watch_snapshots first)"
        )
    stored = price_store.replace_daily_prices(league, prices)
    summary = (
        prices.group_by("currency")
        .agg(
            pl.len().alias("days"),
            pl.col("price_chaos").first().alias("first_chaos"),
            pl.col("price_chaos").last().alias("last_chaos"),
            pl.col("price_divine").last().alias("last_divine"),
        )
        .sort("last_chaos", descending=True)
    )
    partition_metadata(
        context,
        key,
        {
            "league": league,
            "source": source,
            "snapshot_rows_read": snapshots,
            "rows": prices.height,
            "currencies": summary.height,
            "first_date": str(prices["date"].min()),
            "last_date": str(prices["date"].max()),
            "days": int(prices["league_day"].max()) + 1,
            "currencies_summary": dg.MetadataValue.md(frame_to_markdown(summary)),
            "price_store": f"{type(price_store).__name__}: {stored} rows",
        },
    )
    return prices
