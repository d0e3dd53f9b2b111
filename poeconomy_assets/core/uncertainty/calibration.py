"""Walk-forward residuals of a trained model, put back next to the rows they were made on.

A model stores its out-of-fold residuals (actual − predicted log return on the validation leagues) as
a bare array, in the order training produced them: this currency's rows of each validation league
with a known target, sorted by date. Rebuilding that selection from the same features gives every
residual its date, league day and the volatility known then, which is what phase-aware, scaled
conformal calibration needs, and the honest (never-seen-the-outcome) forecast of each of those days.
"""

from typing import Any

import numpy as np
import polars as pl

from poeconomy_assets.core.features import target_column
from poeconomy_assets.core.schemas import HORIZON_DAYS
from poeconomy_assets.core.uncertainty.intervals import OFFSET_NAMES, PhaseCalibrator, scale_expr

CALIBRATION_COLUMNS = [
    "league",
    "currency",
    "date",
    "league_day",
    "price_chaos",
    "scale",
    "target",
    "residual",
]


def empty_calibration() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "league": pl.Utf8,
            "currency": pl.Utf8,
            "date": pl.Date,
            "league_day": pl.Int64,
            "price_chaos": pl.Float64,
            "scale": pl.Float64,
            "target": pl.Float64,
            "residual": pl.Float64,
        }
    )


def calibration_frame(
    features: pl.DataFrame, currency: str, horizon: str, residuals: np.ndarray, validation_leagues: list[str]
) -> pl.DataFrame:
    """One row per stored residual: league, currency, date, league_day, price_chaos, scale, target
    (the actual log return: persistence's residual), residual. Empty when the features no longer
    match the residuals (different data than the model was trained on)."""
    target = target_column(horizon)
    rows = (
        features.filter(
            (pl.col("currency") == currency)
            & pl.col(target).is_not_null()
            & pl.col("league").is_in(list(validation_leagues))
        )
        .sort("date")
        .select(
            "league",
            "currency",
            "date",
            "league_day",
            "price_chaos",
            scale_expr(HORIZON_DAYS[horizon]),
            pl.col(target).alias("target"),
        )
    )
    residuals = np.asarray(residuals, dtype=float)
    if rows.height != residuals.size or rows.is_empty():
        return empty_calibration()
    return rows.with_columns(pl.Series("residual", residuals)).select(CALIBRATION_COLUMNS)


def model_calibration(features: pl.DataFrame, model: Any) -> pl.DataFrame:
    """:func:`calibration_frame` for a ``TrainedModel`` (or anything with currency, horizon, residuals, info)."""
    return calibration_frame(
        features,
        model.currency,
        model.horizon,
        model.residuals,
        list(model.info.get("validation_leagues", [])),
    )


def price_bands(
    rows: pl.DataFrame, points: np.ndarray, calibrator: PhaseCalibrator, horizon: str, prefix: str = ""
) -> pl.DataFrame:
    """The forecast distribution in chaos for forecast rows (features at the forecast date) whose predicted
    log returns are ``points``: ``{prefix}lower_95``, ``lower_80``, ``lower_50``, ``median_chaos`` (the point
    forecast), ``upper_50``, ``upper_80``, ``upper_95``, P(up) read from the same distribution, the method."""
    scales = (
        rows.select(scale_expr(HORIZON_DAYS[horizon]))["scale"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    )
    offsets = calibrator.intervals(points, rows["league_day"].to_numpy(), scales)
    price = rows["price_chaos"].to_numpy()
    points = np.asarray(points, dtype=float)
    bounds = {
        f"{prefix}{'median_chaos' if c == 'median' else c}": price * np.exp(points + offsets[c].to_numpy())
        for c in OFFSET_NAMES
    }
    extra = offsets.select("prob_up", "prob_up_reason", "interval_method", "calibration_n")
    if prefix:
        extra = extra.rename(lambda c: f"{prefix}{c}")
    return pl.DataFrame(bounds).hstack(extra)
