"""League-aware features per currency, computed from every league's daily prices."""

import time

import dagster as dg
import polars as pl

from poeconomy_assets.core.features.build import build_features, feature_columns
from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.schemas import Features
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec
from poeconomy_assets.defs.partitions import currency_partitions


@dg.asset(
    group_name="features",
    partitions_def=currency_partitions,
    ins={"daily_prices": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    check_specs=[schema_check_spec("currency_features", Features)],
    kinds={"polars", "parquet"},
)
def currency_features(context: dg.AssetExecutionContext, daily_prices: pl.DataFrame):  # no return annotation: Dagster reads one as the type of every output, check outputs included
    """Model inputs for one currency on every day of every league (no look-ahead), with 1d/3d/7d targets.

    Cross-league and market-wide features need every currency's history, so the whole price table
    is read and this currency's rows are kept.
    """
    currency = name_from_key(context.partition_key)
    started = time.perf_counter()
    features = build_features(daily_prices).filter(pl.col("currency") == currency)
    if features.is_empty():
        raise ValueError(f"no price history for currency {currency!r} in any materialized league")
    columns = feature_columns(features)
    null_share = features.select(pl.col(columns).null_count()).row(0)
    return dg.MaterializeResult(
        value=features,
        metadata={
            "currency": currency,
            "rows": features.height,
            "leagues": features["league"].n_unique(),
            "feature_count": len(columns),
            "mostly_null_features": ", ".join(c for c, n in zip(columns, null_share) if n > 0.5 * features.height)
            or "none",
            "input_rows": daily_prices.height,
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[schema_check_result("currency_features", Features, features)],
    )
