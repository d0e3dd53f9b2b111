"""Price forecasts per currency × horizon, with calibrated 80% and 95% intervals."""

import json
import time
import warnings
from collections import Counter

import dagster as dg
import numpy as np
import polars as pl

from poeconomy_assets.core.models.artifacts import MANIFEST, sha256
from poeconomy_assets.core.report.charts import forecast_history_png
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.report.numbers import price_text
from poeconomy_assets.core.report.report import png_markdown
from poeconomy_assets.core.schemas import Forecasts
from poeconomy_assets.core.uncertainty.forecast_table import build_forecasts, stored_calibration
from poeconomy_assets.defs.checks import (
    consistency_check_result,
    consistency_check_spec,
    schema_check_result,
    schema_check_spec,
)
from poeconomy_assets.defs.metadata import currency_horizon, metric
from poeconomy_assets.defs.partitions import currency_horizon_partitions, split_currency_horizon
from poeconomy_assets.defs.ui_metadata import fan_table, number
from poeconomy_assets.resources.model_store import ModelStore

RESIDUALS = "residuals.npy"


def stored_residuals(model_store: ModelStore, currencies: list[str], horizon: str) -> list[tuple[dict, np.ndarray]]:
    """(manifest, walk-forward residuals) of every stored model at ``horizon`` whose residual file
    matches its manifest's sha256 (the members themselves are not needed, so not loaded)."""
    found = []
    for currency in currencies:
        directory = model_store.directory(currency, horizon)
        manifest_path = directory / MANIFEST
        if not manifest_path.exists():
            continue
        manifest = json.loads(manifest_path.read_text())
        path = directory / RESIDUALS
        if path.exists() and manifest.get("files", {}).get(RESIDUALS) == sha256(path):
            found.append((manifest, np.load(path, allow_pickle=False)))
    return found


# A forecast's intervals pool the walk-forward residuals of every currency's model at its horizon, so it
# depends on all of them: a backfill runs it only once they are all trained, whatever order they finish in.
with warnings.catch_warnings(category=dg.BetaWarning, action="ignore"):  # beta in 1.13
    EVERY_MODEL_OF_THE_HORIZON = dg.MultiPartitionMapping({
        "currency": dg.DimensionPartitionMapping("currency", dg.AllPartitionMapping()),
        "horizon": dg.DimensionPartitionMapping("horizon", dg.IdentityPartitionMapping()),
    })


@dg.asset(
    group_name="forecasts",
    partitions_def=currency_horizon_partitions,
    deps=[dg.AssetDep("price_models", partition_mapping=EVERY_MODEL_OF_THE_HORIZON)],
    # Every currency's features: intervals pool other currencies' residuals when this one has too few,
    # and prices are converted to divines with the Divine Orb's own series.
    ins={"currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    # Both blocking, computed here on every row written. A partition holds one horizon: the rule across horizons
    # (a longer band never narrower) is applied, and checked, where the report harmonizes them (build_report).
    check_specs=[schema_check_spec("price_forecasts", Forecasts), consistency_check_spec("price_forecasts")],
    kinds={"polars", "parquet"},
)
def price_forecasts(
    context: dg.AssetExecutionContext, currency_features: pl.DataFrame, model_store: ModelStore
):  # no return annotation: Dagster reads one as the type of every output, check outputs included
    """Where this currency's price is going over the horizon, for every day of the latest league and the
    last day of each earlier one: point forecast, 80%/95% intervals, P(up), in chaos and divines."""
    currency, horizon = split_currency_horizon(context.partition_key)
    started = time.perf_counter()
    model = model_store.load(currency, horizon)  # refuses tampered artifacts
    currencies = currency_features["currency"].unique().sort().to_list()
    pooled = stored_calibration(currency_features, stored_residuals(model_store, currencies, horizon), horizon)
    forecasts = build_forecasts(currency_features, model, pooled)
    newest = forecasts.tail(1).row(0, named=True)
    latest = forecasts.filter(pl.col("league") == newest["league"])
    sources = Counter(latest["forecast_source"].to_list())
    methods = Counter(latest["interval_method"].to_list())
    context.log.info(f"{currency} {horizon}: {forecasts.height} forecasts ({dict(sources)}), intervals {dict(methods)}")
    return dg.MaterializeResult(
        value=forecasts,
        metadata={
            **currency_horizon(currency, horizon),
            "rows": forecasts.height,
            "latest_league": newest["league"],
            "as_of": str(newest["as_of"]),
            "price_chaos": number(newest["price_chaos"]),
            "price_divine": number(newest["price_divine"]),
            "forecast_chaos": number(newest["forecast_chaos"]),
            "expected_return_pct": round(100 * newest["expected_return"], 2),
            "forecast_fan": fan_table(latest.tail(10)),  # inline: the last days' bands as text fans
            "fan_chart": dg.MetadataValue.md(png_markdown(forecast_history_png(forecasts, currency, horizon),
                                                          "forecast fan")),
            "interval_80_chaos": f"{price_text(newest['lower_80'])} – {price_text(newest['upper_80'])}",
            "interval_95_chaos": f"{price_text(newest['lower_95'])} – {price_text(newest['upper_95'])}",
            "prob_up": number(newest["prob_up"], 3),
            "prob_up_reason": newest["prob_up_reason"] or "calibrated walk-forward residuals",
            "interval_method": newest["interval_method"],
            "calibration_residuals": int(newest["calibration_n"]),
            "pooled_calibration_rows": pooled.height,
            "forecast_sources": dg.MetadataValue.json(dict(sources)),
            "interval_methods": dg.MetadataValue.json(dict(methods)),
            "validation_mase": metric(model.metrics["mase"]),
            "seconds": round(time.perf_counter() - started, 3),
            "forecasts": dg.MetadataValue.md(
                frame_to_markdown(forecasts.tail(15).select(
                    "league", "as_of", "forecast_source", "price_chaos", "forecast_chaos", "lower_80", "upper_80",
                    "prob_up", "interval_method"))
            ),
        },
        check_results=[schema_check_result("price_forecasts", Forecasts, forecasts),
                       consistency_check_result("price_forecasts", forecasts)],
    )
