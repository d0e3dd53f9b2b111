"""Prediction intervals for log-return forecasts, calibrated on walk-forward residuals.

Residuals (actual − predicted log return) from the validation folds are not exchangeable as they come:
launch weeks move several times more than late-league days, and a cheap orb moves more than a stable
one. So each residual is divided by the volatility known when its forecast was made (the recent
standard deviation of daily log returns × √horizon: a *scale*) and grouped by league phase (launch
week, first month, later). A forecast's band is its own scale × the conformal quantile of the scaled
scores of its phase. The ladder, per currency × horizon × phase:

- ``conformal-own``    (≥ OWN_MIN of this currency's scores in the phase): split conformal on them;
- ``conformal-pooled`` (≥ CONFORMAL_MIN scores of every currency in the phase): split conformal on those;
- ``bootstrap``        (BOOTSTRAP_MIN to CONFORMAL_MIN − 1): the quantile averaged over bootstrap
  resamples, widened 1.5× for the small sample;
- ``conservative``     (< BOOTSTRAP_MIN): a wide fixed band (±35% per √day at 95%) and no P(up).
"""

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from poeconomy_assets.core.features.build import league_phase

OWN_MIN = 30
CONFORMAL_MIN = 15
BOOTSTRAP_MIN = 5
BOOTSTRAP_WIDEN = 1.5
CONSERVATIVE_95_PER_SQRT_DAY = 0.35
Z80_OVER_Z95 = 1.2816 / 1.96
MIN_DAILY_VOL = 0.005  # a currency that has not moved for two weeks still can: floor its scale
PHASE_NAMES = ("launch week", "first month", "later")  # league_phase 0, 1, 2
SCALE_SOURCES = ("vol_14d", "vol_7d", "momentum_vol_3d")  # first non-null, in this order


def scale_expr(horizon_days: int) -> pl.Expr:
    """Volatility known at the forecast date × √horizon (null on the first days of a league)."""
    sources = [pl.col(c) for c in SCALE_SOURCES]
    return (pl.coalesce(sources).clip(lower_bound=MIN_DAILY_VOL) * math.sqrt(horizon_days)).alias("scale")


def _conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    n = scores.size
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    return float(np.quantile(scores, level))


def _conservative(horizon_days: int) -> tuple[float, float]:
    half95 = CONSERVATIVE_95_PER_SQRT_DAY * math.sqrt(horizon_days)
    return half95 * Z80_OVER_Z95, half95


@dataclass(frozen=True)
class _Band:
    """One phase's calibrated band: half-widths in scale units, the signed scores for P(up)."""

    method: str
    n: int
    q80: float
    q95: float
    signed: np.ndarray  # sorted signed scores (empty for conservative)
    typical_scale: float  # stands in for a forecast whose own scale is unknown


def _band(scores: np.ndarray, scales: np.ndarray, method: str, seed: int) -> _Band:
    typical = float(np.median(scales)) if scales.size else float("nan")
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        draws = rng.choice(scores, size=(500, scores.size), replace=True)
        q80, q95 = np.quantile(np.abs(draws), [0.80, 0.95], axis=1).mean(axis=1) * BOOTSTRAP_WIDEN
        return _Band(method, scores.size, float(q80), float(q95), np.sort(scores * BOOTSTRAP_WIDEN), typical)
    absolute = np.abs(scores)
    return _Band(method, scores.size, _conformal_quantile(absolute, 0.80), _conformal_quantile(absolute, 0.95),
                 np.sort(scores), typical)


class PhaseCalibrator:
    """Bands for one currency × horizon from its own walk-forward residuals and everyone's (pooled).

    ``own`` and ``pooled`` are frames with columns ``league_day``, ``scale`` (null allowed) and
    ``residual`` (actual − predicted log return); :func:`calibration_frame` builds them.
    """

    def __init__(self, own: pl.DataFrame, pooled: pl.DataFrame | None, horizon_days: int, seed: int = 0) -> None:
        self.horizon_days = horizon_days
        self.bands: dict[int, _Band] = {}
        own_parts, pool_parts = _by_phase(own), _by_phase(pooled if pooled is not None else own)
        for phase in range(len(PHASE_NAMES)):
            own_scores, own_scales = own_parts[phase]
            pool_scores, pool_scales = pool_parts[phase]
            if own_scores.size >= OWN_MIN:
                self.bands[phase] = _band(own_scores, own_scales, "conformal-own", seed)
            elif pool_scores.size >= CONFORMAL_MIN:
                self.bands[phase] = _band(pool_scores, pool_scales, "conformal-pooled", seed)
            else:
                scores, scales = max((own_parts[phase], pool_parts[phase]), key=lambda p: p[0].size)
                if scores.size >= BOOTSTRAP_MIN:
                    self.bands[phase] = _band(scores, scales, "bootstrap", seed)
                else:
                    self.bands[phase] = _Band("conservative", scores.size, *_conservative(horizon_days),
                                              np.array([]), float("nan"))

    def intervals(self, points: np.ndarray, league_days: np.ndarray, scales: np.ndarray) -> pl.DataFrame:
        """Per forecast: log offsets lower/upper 80/95, P(up), its reason when null, method and n."""
        points = np.asarray(points, dtype=float)
        scales = np.asarray(scales, dtype=float)
        phases = league_phase(league_days)
        n = points.size
        half80, half95, prob = np.empty(n), np.empty(n), np.full(n, np.nan)
        method = np.empty(n, dtype=object)
        count = np.zeros(n, dtype=np.int64)
        for phase, band in self.bands.items():
            mask = phases == phase
            if not mask.any():
                continue
            method[mask], count[mask] = band.method, band.n
            if band.method == "conservative":
                half80[mask], half95[mask] = band.q80, band.q95
                continue
            scale = np.where(np.isfinite(scales[mask]), scales[mask], band.typical_scale)
            half80[mask], half95[mask] = band.q80 * scale, band.q95 * scale
            # P(point + scale * score > 0) over the calibrated distribution of signed scores
            below = np.searchsorted(band.signed, -points[mask] / scale, side="right")
            prob[mask] = 1.0 - below / band.signed.size
        reason = [f"only {c} walk-forward residuals (need {BOOTSTRAP_MIN})" if np.isnan(p) else None
                  for p, c in zip(prob, count)]  # a plain list: an all-None object array cannot become strings
        return pl.DataFrame({
            "lower_80": -half80, "upper_80": half80, "lower_95": -half95, "upper_95": half95,
            "prob_up": pl.Series(prob).fill_nan(None), "prob_up_reason": pl.Series(reason, dtype=pl.Utf8),
            "interval_method": pl.Series(method.astype(str), dtype=pl.Utf8), "calibration_n": count,
        })

    def describe(self) -> dict[str, str]:
        return {PHASE_NAMES[p]: f"{b.method} (n={b.n})" for p, b in sorted(self.bands.items())}


def _by_phase(frame: pl.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Scaled scores and their scales per phase (rows without a scale use their phase's median)."""
    out = {}
    if frame.is_empty():
        return {p: (np.array([]), np.array([])) for p in range(len(PHASE_NAMES))}
    phases = league_phase(frame["league_day"].to_numpy())
    scale = frame["scale"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    residual = frame["residual"].to_numpy().astype(float)
    for phase in range(len(PHASE_NAMES)):
        mask = (phases == phase) & np.isfinite(residual)
        s = scale[mask]
        known = s[np.isfinite(s)]
        fill = float(np.median(known)) if known.size else float(np.nanmedian(scale)) if np.isfinite(scale).any() else 1.0
        s = np.where(np.isfinite(s), s, fill)
        out[phase] = (residual[mask] / s, s)
    return out

