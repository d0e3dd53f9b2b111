"""League-aware features per currency, computed from every league's daily prices."""

import time

import dagster as dg
import polars as pl

from poeconomy_assets.core.features import build_features, feature_columns
from poeconomy_assets.core.keys import key_from_name, name_from_key
from poeconomy_assets.core.schemas import Features
from poeconomy_assets.defs.batching import ONE_RUN, partition_metadata, run_partition_keys, run_value
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec
from poeconomy_assets.defs.partitions import currency_partitions
from poeconomy_assets.resources.parquet_io_manager import ByPartition


@dg.asset(
    group_name="features",
    partitions_def=currency_partitions,
    backfill_policy=ONE_RUN,  # cross-currency features come from one table: build it once for every currency
    ins={"daily_prices": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    check_specs=[schema_check_spec("currency_features", Features)],
    kinds={"polars", "parquet"},
)
def currency_features(
    context: dg.AssetExecutionContext, daily_prices: pl.DataFrame
):  # no return annotation: Dagster reads one as the type of every output, check outputs included
    """Model inputs for each currency on every day of every league (no look-ahead), with 1d/3d/7d targets.

    Cross-league and market-wide features need every currency's history, so the whole price table is read
    once per run and each currency of the run keeps its own rows (one Parquet file per currency).
    """
    keys = run_partition_keys(context)
    started = time.perf_counter()
    everything = build_features(daily_prices)
    built = time.perf_counter() - started
    by_key = {
        key_from_name(name): frame
        for (name,), frame in everything.partition_by("currency", as_dict=True).items()
    }
    missing = [name_from_key(k) for k in keys if k not in by_key]
    if missing:
        raise ValueError(f"no price history for currency {missing[:5]!r} in any materialized league")
    columns = feature_columns(everything)
    values = ByPartition()
    for key in keys:
        features = values[key] = by_key[key]
        null_share = features.select(pl.col(columns).null_count()).row(0)
        partition_metadata(
            context,
            key,
            {
                "currency": name_from_key(key),
                "rows": features.height,
                "leagues": features["league"].n_unique(),
                "mostly_null_features": ", ".join(
                    c for c, n in zip(columns, null_share) if n > 0.5 * features.height
                )
                or "none",
            },
        )
    written = pl.concat(list(values.values()))
    return dg.MaterializeResult(
        value=run_value(values),
        metadata={
            "currencies_in_run": len(keys),
            "feature_count": len(columns),
            "input_rows": daily_prices.height,
            "build_seconds": round(built, 3),
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[schema_check_result("currency_features", Features, written)],
    )
