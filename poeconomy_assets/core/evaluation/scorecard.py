"""Realized scores of past forecasts: once a forecast's outcome exists, how good was it?

A forecast made on ``as_of`` at horizon ``h`` is scored against the price on ``as_of + h`` (same
league), next to persistence on the same points. Only honest forecasts count (``model`` and
``walk_forward`` sources, never ``in_sample``), and only the last ``window`` as-of dates that have an
outcome. Drift: realized relative MAE (metrics.relative_mae, key ``rel_mae``) above ``rel_mae_limit`` at the horizons in
``rel_mae_horizons``, or 80% coverage more than ``coverage_drop`` below nominal (bands too narrow: the model is surer
than it should be) or more than ``coverage_excess`` above it (bands too wide: the report hides real edges behind
needless doubt), on at least ``min_points`` points. Both are calibration failures and both ask for a retrain.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from poeconomy_assets.core.metrics import score_points
from poeconomy_assets.core.schemas import HORIZON_DAYS

HONEST_SOURCES = ("model", "walk_forward")


@dataclass(frozen=True)
class DriftRules:
    window_days: int = 14
    rel_mae_limit: float = 1.1
    rel_mae_horizons: tuple[str, ...] = ("7d",)
    nominal_80: float = 0.80
    coverage_drop: float = 0.10
    coverage_excess: float = 0.10  # 80% coverage above nominal + this (90%): bands too wide
    min_points: int = 7  # fewer scored forecasts than this: no verdict for that currency × horizon


def band_verdict(coverage_80: float | None, n: int, rules: DriftRules) -> str | None:
    """``too narrow`` / ``too wide`` when realized 80% coverage is outside nominal ± the rules' margins on
    at least ``min_points`` forecasts; None when it is within them or there are too few to say."""
    if coverage_80 is None or not np.isfinite(coverage_80) or n < rules.min_points:
        return None
    if coverage_80 < rules.nominal_80 - rules.coverage_drop:
        return "too narrow"
    if coverage_80 > rules.nominal_80 + rules.coverage_excess:
        return "too wide"
    return None


def realized_points(
    forecasts: pl.DataFrame, prices: pl.DataFrame, league: str, window_days: int
) -> pl.DataFrame:
    """Forecasts of ``league`` whose outcome is in ``prices``, from the last ``window_days`` as-of dates
    that have one (per horizon), with ``actual_chaos``."""
    days = pl.col("horizon").replace_strict(HORIZON_DAYS, return_dtype=pl.Int64)
    outcomes = prices.filter(pl.col("league") == league).select(
        "currency", pl.col("date").alias("target_date"), pl.col("price_chaos").alias("actual_chaos")
    )
    scored = (
        forecasts.filter((pl.col("league") == league) & pl.col("forecast_source").is_in(HONEST_SOURCES))
        .drop("actual_chaos", strict=False)
        .with_columns((pl.col("as_of") + pl.duration(days=days)).alias("target_date"))
        .join(outcomes, on=["currency", "target_date"], how="inner")
    )
    last = scored.group_by("horizon").agg(pl.col("as_of").max().alias("_last"))
    return (
        scored.join(last, on="horizon")
        .filter(pl.col("as_of") > pl.col("_last") - pl.duration(days=window_days))
        .drop("_last")
        .sort("horizon", "currency", "as_of")
    )


def score_realized(points: pl.DataFrame, rules: DriftRules = DriftRules()) -> pl.DataFrame:
    """One row per horizon × currency: n, rel_mae, coverage_80, coverage_95, mean_relative_width, first and
    last as-of date, and ``drift`` with its ``drift_reason`` (null when there is no drift or no verdict)."""
    rows = []
    for (horizon, currency), group in points.group_by("horizon", "currency", maintain_order=True):
        price, actual = group["price_chaos"].to_numpy(), group["actual_chaos"].to_numpy()
        scores = score_points(price, actual, group["forecast_chaos"].to_numpy())
        cover80 = float(
            np.mean((actual >= group["lower_80"].to_numpy()) & (actual <= group["upper_80"].to_numpy()))
        )
        cover95 = float(
            np.mean((actual >= group["lower_95"].to_numpy()) & (actual <= group["upper_95"].to_numpy()))
        )
        reasons = []
        if (
            scores["n"] >= rules.min_points
            and horizon in rules.rel_mae_horizons
            and np.isfinite(scores["rel_mae"])
            and scores["rel_mae"] > rules.rel_mae_limit
        ):
            reasons.append(f"relative MAE {scores['rel_mae']:.2f} > {rules.rel_mae_limit}")
        verdict = band_verdict(cover80, scores["n"], rules)
        if verdict == "too narrow":
            reasons.append(
                f"bands too narrow: 80% coverage {cover80:.0%} < {rules.nominal_80 - rules.coverage_drop:.0%}"
            )
        elif verdict == "too wide":
            reasons.append(
                f"bands too wide: 80% coverage {cover80:.0%} > {rules.nominal_80 + rules.coverage_excess:.0%}"
            )
        rows.append(
            {
                "horizon": horizon,
                "currency": currency,
                "n": scores["n"],
                "rel_mae": scores["rel_mae"],
                "mape": scores["mape"],
                "direction_accuracy": scores["direction_accuracy"],
                "coverage_80": cover80,
                "coverage_95": cover95,
                "mean_relative_width": float(
                    np.mean((group["upper_80"] - group["lower_80"]).to_numpy() / price)
                ),
                "first_as_of": group["as_of"].min(),
                "last_as_of": group["as_of"].max(),
                "bands": verdict or ("ok" if scores["n"] >= rules.min_points else "too few to say"),
                "drift": bool(reasons),
                "drift_reason": "; ".join(reasons) or None,
            }
        )
    schema = {
        "horizon": pl.Utf8,
        "currency": pl.Utf8,
        "n": pl.Int64,
        "rel_mae": pl.Float64,
        "mape": pl.Float64,
        "direction_accuracy": pl.Float64,
        "coverage_80": pl.Float64,
        "coverage_95": pl.Float64,
        "mean_relative_width": pl.Float64,
        "first_as_of": pl.Date,
        "last_as_of": pl.Date,
        "bands": pl.Utf8,
        "drift": pl.Boolean,
        "drift_reason": pl.Utf8,
    }
    return (
        pl.DataFrame(rows, schema=schema)
        .with_columns(pl.col(pl.Float64).fill_nan(None))
        .sort("horizon", "currency")
    )


def horizon_summary(card: pl.DataFrame) -> pl.DataFrame:
    """Per horizon: relative MAE averaged over currencies, coverage pooled over points, currencies drifting."""
    return (
        card.group_by("horizon")
        .agg(
            pl.col("n").sum(),
            pl.col("rel_mae").mean(),
            ((pl.col("coverage_80") * pl.col("n")).sum() / pl.col("n").sum()).alias("coverage_80"),
            ((pl.col("coverage_95") * pl.col("n")).sum() / pl.col("n").sum()).alias("coverage_95"),
            pl.col("drift").sum().alias("drifting_currencies"),
            (pl.col("bands") == "too narrow").sum().alias("bands_too_narrow"),
            (pl.col("bands") == "too wide").sum().alias("bands_too_wide"),
        )
        .sort("horizon")
    )
