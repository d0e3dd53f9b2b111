"""Prediction intervals for log-return forecasts, calibrated on held-out residuals.

The ladder, chosen by how many residuals (actual − predicted log return) a model has:
- ``conformal`` (≥ 15): split conformal — the finite-sample-corrected quantile of |residual|, so the
  band is symmetric in log space and always contains the point forecast;
- ``bootstrap`` (5–14): the same quantile averaged over bootstrap resamples, widened by 1.5×;
- ``conservative`` (< 5): a wide fixed band (±35% per √day at 95%) — an honest "we don't know".
"""

import math
from dataclasses import dataclass

import numpy as np

CONFORMAL_MIN = 15
BOOTSTRAP_MIN = 5
CONSERVATIVE_95_PER_SQRT_DAY = 0.35


@dataclass(frozen=True)
class Interval:
    """Offsets (in log-return space) around the point forecast, plus the method that produced them."""

    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    method: str
    n_residuals: int
    prob_up: float | None  # P(price rises), None when residuals are too few to say
    prob_up_reason: str | None = None


def _conformal_half_width(abs_residuals: np.ndarray, coverage: float) -> float:
    n = abs_residuals.size
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    return float(np.quantile(abs_residuals, level))


def calibrate(residuals: np.ndarray, point: float, horizon_days: int, seed: int = 0) -> Interval:
    """Interval offsets for a forecast whose predicted log return is ``point``."""
    res = np.asarray(residuals, dtype=float)
    res = res[np.isfinite(res)]
    n = res.size
    if n >= CONFORMAL_MIN:
        h80, h95 = _conformal_half_width(np.abs(res), 0.80), _conformal_half_width(np.abs(res), 0.95)
        prob_up = float(np.mean(point + res > 0))
        return Interval(-h80, h80, -h95, h95, "conformal", n, prob_up)
    if n >= BOOTSTRAP_MIN:
        rng = np.random.default_rng(seed)
        draws = rng.choice(res, size=(500, n), replace=True)
        h80, h95 = np.quantile(np.abs(draws), [0.80, 0.95], axis=1).mean(axis=1) * 1.5
        prob_up = float(np.mean(point + draws.ravel() > 0))
        return Interval(-h80, h80, -h95, h95, "bootstrap", n, prob_up)
    half95 = CONSERVATIVE_95_PER_SQRT_DAY * math.sqrt(horizon_days)
    half80 = half95 * 1.2816 / 1.96
    reason = f"only {n} held-out residuals (need {BOOTSTRAP_MIN})"
    return Interval(-half80, half80, -half95, half95, "conservative", n, None, reason)
