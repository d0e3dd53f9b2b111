"""Price forecasts per currency × horizon, with calibrated 80% and 95% intervals."""

import math

import dagster as dg
import numpy as np
import polars as pl

from poeconomy_assets.core.intervals import calibrate
from poeconomy_assets.core.markdown import frame_to_markdown
from poeconomy_assets.core.schemas import HORIZON_DAYS, Forecasts
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec
from poeconomy_assets.defs.partitions import currency_horizon_partitions, split_currency_horizon
from poeconomy_assets.resources.model_store import ModelStore


@dg.asset(
    group_name="forecasts",
    partitions_def=currency_horizon_partitions,
    deps=["price_models"],
    ins={
        "currency_features": dg.AssetIn(
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="currency")
        )
    },
    check_specs=[schema_check_spec("price_forecasts", Forecasts)],
    kinds={"polars", "parquet"},
)
def price_forecasts(
    context: dg.AssetExecutionContext, currency_features: pl.DataFrame, model_store: ModelStore
):  # no return annotation: Dagster reads one as the type of every output, check outputs included
    """Where this currency's price is going over the horizon, from the latest day of each league."""
    currency, horizon = split_currency_horizon(context.partition_key)
    model = model_store.load(currency, horizon)  # refuses tampered artifacts
    latest = currency_features.sort("date").group_by("league", maintain_order=True).last().sort("date")
    predicted = model.predict(latest)
    rows = []
    for row, point in zip(latest.iter_rows(named=True), predicted):
        band = calibrate(model.residuals, float(point), HORIZON_DAYS[horizon])
        price = row["price_chaos"]
        rows.append(
            {
                "league": row["league"],
                "currency": currency,
                "horizon": horizon,
                "as_of": row["date"],
                "price_chaos": price,
                "forecast_chaos": price * math.exp(point),
                "expected_return": math.expm1(point),
                "lower_80": price * math.exp(point + band.lower_80),
                "upper_80": price * math.exp(point + band.upper_80),
                "lower_95": price * math.exp(point + band.lower_95),
                "upper_95": price * math.exp(point + band.upper_95),
                "prob_up": band.prob_up,
                "prob_up_reason": band.prob_up_reason,
                "interval_method": band.method,
                "validation_mase": float(model.metrics["mase"]),
            }
        )
    forecasts = pl.DataFrame(rows, schema_overrides={"prob_up": pl.Float64, "prob_up_reason": pl.Utf8})
    newest = forecasts.tail(1).row(0, named=True)
    return dg.MaterializeResult(
        value=forecasts,
        metadata={
            "currency": currency,
            "horizon": horizon,
            "latest_league": newest["league"],
            "as_of": str(newest["as_of"]),
            "price_chaos": newest["price_chaos"],
            "forecast_chaos": newest["forecast_chaos"],
            "expected_return_pct": round(100 * newest["expected_return"], 2),
            "interval_80": f"{newest['lower_80']:.4g} – {newest['upper_80']:.4g}",
            "interval_method": newest["interval_method"],
            "mean_abs_prediction": float(np.mean(np.abs(predicted))),
            "forecasts": dg.MetadataValue.md(
                frame_to_markdown(forecasts.select("league", "as_of", "price_chaos", "forecast_chaos",
                                                   "lower_80", "upper_80", "prob_up"))
            ),
        },
        check_results=[schema_check_result("price_forecasts", Forecasts, forecasts)],
    )
