"""Price forecasts per currency × horizon, with calibrated 80% and 95% intervals.

``interval_calibration`` [horizon] pools the walk-forward residuals of every model of the horizon once;
``price_forecasts`` [currency × horizon] reads its horizon's pooled calibration instead of recomputing it from
every residual set in every partition's run.
"""

import time
from collections import Counter

import dagster as dg
import polars as pl

from poeconomy_assets.core.prices import DIVINE
from poeconomy_assets.core.progress import Progress
from poeconomy_assets.core.report import frame_to_markdown, price_text
from poeconomy_assets.core.schemas import Forecasts
from poeconomy_assets.core.uncertainty import build_forecasts, stored_calibration
from poeconomy_assets.defs.batching import CHUNKED, ONE_RUN, partition_metadata, run_partition_keys, run_value
from poeconomy_assets.defs.checks import (
    consistency_check_result,
    consistency_check_spec,
    schema_check_result,
    schema_check_spec,
)
from poeconomy_assets.defs.metadata import currency_horizon, metric
from poeconomy_assets.defs.models import BY_HORIZON
from poeconomy_assets.defs.partitions import (
    currency_horizon_key,
    currency_horizon_partitions,
    horizon_partitions,
    split_currency_horizon,
)
from poeconomy_assets.defs.ui_metadata import fan_table, number
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.resources.parquet_io_manager import ByPartition


@dg.asset(
    group_name="forecasts",
    partitions_def=horizon_partitions,
    backfill_policy=ONE_RUN,
    # The walk-forward residuals of every model of the horizon: it waits for all of them, in any order.
    deps=[dg.AssetDep("price_models", partition_mapping=BY_HORIZON)],
    ins={"currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"polars", "parquet"},
)
def interval_calibration(
    context: dg.AssetExecutionContext, currency_features: pl.DataFrame, model_store: ModelStore
) -> dg.MaterializeResult:
    """Every currency's walk-forward residuals at the horizon, each beside its date, league day and volatility:
    what a forecast's intervals borrow when its own model has too few residuals (pooled calibration)."""
    currencies = currency_features["currency"].unique().sort().to_list()
    values = ByPartition()
    for horizon in run_partition_keys(context):
        started = time.perf_counter()
        sets, skipped = model_store.stored_residuals(currencies, horizon)
        for currency, reason in skipped.items():  # one bad model never stops its horizon's calibration
            context.log.warning(
                f"{currency} {horizon}: residuals left out of the pooled calibration: {reason}"
            )
        frame = stored_calibration(currency_features, sets, horizon).with_columns(horizon=pl.lit(horizon))
        values[horizon] = frame
        partition_metadata(
            context,
            horizon,
            {
                "horizon": horizon,
                "residual_sets": len(sets),
                "residual_sets_skipped": dg.MetadataValue.json(skipped),
                "currencies": frame["currency"].n_unique(),
                "rows": frame.height,
                "leagues": ", ".join(sorted(frame["league"].unique().to_list())),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
    return dg.MaterializeResult(value=run_value(values))


@dg.asset(
    group_name="forecasts",
    partitions_def=currency_horizon_partitions,
    backfill_policy=CHUNKED,
    # Every currency's features: prices are converted to divines with the Divine Orb's own series. Read once per
    # run, which covers up to CHUNK currency × horizon keys.
    ins={
        "currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
        "interval_calibration": dg.AssetIn(partition_mapping=BY_HORIZON),
    },
    deps=["price_models"],
    # Both blocking, computed on every row written. A partition holds one horizon: the rule across horizons
    # (a longer band never narrower) is applied, and checked, where the report harmonizes them (build_report).
    check_specs=[schema_check_spec("price_forecasts", Forecasts), consistency_check_spec("price_forecasts")],
    kinds={"polars", "parquet"},
)
def price_forecasts(
    context: dg.AssetExecutionContext,
    currency_features: pl.DataFrame,
    interval_calibration: pl.DataFrame,
    model_store: ModelStore,
):  # no return annotation: Dagster reads one as the type of every output, check outputs included
    """Where each currency's price is going over the horizon, for every day of the latest league and the
    last day of each earlier one: point forecast, 80%/95% intervals, P(up), in chaos and divines."""
    keys = run_partition_keys(context)
    pooled = {
        h: frame.drop("horizon")
        for (h,), frame in interval_calibration.partition_by("horizon", as_dict=True).items()
    }
    features_by_currency = currency_features.partition_by("currency", as_dict=True)
    divine = currency_features.filter(pl.col("currency") == DIVINE)
    progress = Progress(len(keys), "price_forecasts", context.log.info, unit="forecasts")
    values, started = ByPartition(), time.perf_counter()
    for key in keys:
        currency, horizon = split_currency_horizon(key)
        one = time.perf_counter()
        model = model_store.load(currency, horizon)  # refuses tampered artifacts
        own = features_by_currency.get((currency,))
        if own is None:
            raise ValueError(f"no features for {currency!r}: materialize currency_features first")
        features = pl.concat([own, divine], how="diagonal_relaxed") if currency != DIVINE else own
        calibration = pooled.get(horizon)
        forecasts = values[str(currency_horizon_key(currency, horizon))] = build_forecasts(
            features, model, calibration
        )
        partition_metadata(
            context,
            str(currency_horizon_key(currency, horizon)),
            forecast_metadata(forecasts, model, calibration, time.perf_counter() - one),
        )
        progress.step()
    written = pl.concat(list(values.values()), how="diagonal_relaxed")
    sources = Counter(written["forecast_source"].to_list())
    return dg.MaterializeResult(
        value=run_value(values),
        metadata={
            "forecasts_in_run": len(keys),
            "rows": written.height,
            "forecast_sources": dg.MetadataValue.json(dict(sources)),
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[
            schema_check_result("price_forecasts", Forecasts, written),
            consistency_check_result("price_forecasts", written),
        ],
    )


def forecast_metadata(
    forecasts: pl.DataFrame, model: object, calibration: pl.DataFrame | None, seconds: float
) -> dict:
    """What one currency × horizon forecast's page in the UI shows: the newest forecast, its bands as text
    fans (no inline image: charts are in the report), where the numbers came from."""
    currency, horizon = forecasts["currency"][0], forecasts["horizon"][0]
    newest = forecasts.tail(1).row(0, named=True)
    latest = forecasts.filter(pl.col("league") == newest["league"])
    sources = Counter(latest["forecast_source"].to_list())
    methods = Counter(latest["interval_method"].to_list())
    return {
        **currency_horizon(currency, horizon),
        "rows": forecasts.height,
        "latest_league": newest["league"],
        "as_of": str(newest["as_of"]),
        "price_chaos": number(newest["price_chaos"]),
        "price_divine": number(newest["price_divine"]),
        "forecast_chaos": number(newest["forecast_chaos"]),
        "expected_return_pct": round(100 * newest["expected_return"], 2),
        "forecast_fan": fan_table(latest.tail(10)),  # inline: the last days' bands as text fans
        "interval_80_chaos": f"{price_text(newest['lower_80'])} – {price_text(newest['upper_80'])}",
        "interval_95_chaos": f"{price_text(newest['lower_95'])} – {price_text(newest['upper_95'])}",
        "prob_up": number(newest["prob_up"], 3),
        "prob_up_reason": newest["prob_up_reason"] or "calibrated walk-forward residuals",
        "interval_method": newest["interval_method"],
        "calibration_residuals": int(newest["calibration_n"]),
        "pooled_calibration_rows": 0 if calibration is None else calibration.height,
        "forecast_sources": dg.MetadataValue.json(dict(sources)),
        "interval_methods": dg.MetadataValue.json(dict(methods)),
        "validation_rel_mae": metric(model.metrics["rel_mae"]),  # type: ignore[attr-defined]
        "forecast": f"{newest['skill_gate']}: {newest['skill_gate_reason']}",
        "seconds": round(seconds, 3),
        "forecasts": dg.MetadataValue.md(
            frame_to_markdown(
                forecasts.tail(15).select(
                    "league",
                    "as_of",
                    "forecast_source",
                    "price_chaos",
                    "forecast_chaos",
                    "lower_80",
                    "upper_80",
                    "prob_up",
                    "interval_method",
                )
            )
        ),
    }
