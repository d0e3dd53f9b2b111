"""Prediction intervals for log-return forecasts, calibrated on held-out residuals.

The ladder, chosen by how many residuals (actual − predicted log return) a model has:
- ``conformal`` (≥ 15): split-conformal quantiles of the signed residuals, finite-sample corrected;
- ``bootstrap`` (5–14): the same quantiles averaged over bootstrap resamples, widened by 1.5×;
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


def _conformal_offsets(residuals: np.ndarray, coverage: float) -> tuple[float, float]:
    n = residuals.size
    alpha = 1.0 - coverage
    lo_level = max(0.0, math.floor((n + 1) * (alpha / 2)) / n)
    hi_level = min(1.0, math.ceil((n + 1) * (1 - alpha / 2)) / n)
    return float(np.quantile(residuals, lo_level)), float(np.quantile(residuals, hi_level))


def calibrate(residuals: np.ndarray, point: float, horizon_days: int, seed: int = 0) -> Interval:
    """Interval offsets for a forecast whose predicted log return is ``point``."""
    res = np.asarray(residuals, dtype=float)
    res = res[np.isfinite(res)]
    n = res.size
    if n >= CONFORMAL_MIN:
        lo80, hi80 = _conformal_offsets(res, 0.80)
        lo95, hi95 = _conformal_offsets(res, 0.95)
        prob_up = float(np.mean(point + res > 0))
        return Interval(lo80, hi80, lo95, hi95, "conformal", n, prob_up)
    if n >= BOOTSTRAP_MIN:
        rng = np.random.default_rng(seed)
        draws = rng.choice(res, size=(500, n), replace=True)
        q = np.quantile(draws, [0.10, 0.90, 0.025, 0.975], axis=1).mean(axis=1) * 1.5
        prob_up = float(np.mean(point + draws.ravel() > 0))
        return Interval(q[0], q[1], q[2], q[3], "bootstrap", n, prob_up)
    half95 = CONSERVATIVE_95_PER_SQRT_DAY * math.sqrt(horizon_days)
    half80 = half95 * 1.2816 / 1.96
    reason = f"only {n} held-out residuals (need {BOOTSTRAP_MIN})"
    return Interval(-half80, half80, -half95, half95, "conservative", n, None, reason)
