"""Prediction intervals for log-return forecasts, calibrated on walk-forward residuals.

Residuals (actual − predicted log return) from the validation folds are not exchangeable as they come:
launch weeks move several times more than late-league days, and a cheap orb moves more than a stable
one. So each residual is divided by the volatility known when its forecast was made (the recent
standard deviation of daily log returns × √horizon: a *scale*) and grouped by league phase (launch
week, first month, later). A forecast's distribution (see ``core.uncertainty.distribution``) is centred on
the point + its scale × the median score of its phase (the model's typical bias), with 50/80/95%
half-widths = its scale × the conformal quantiles of |score − median score|; P(up) is read from that same
distribution. The ladder, per currency × horizon × phase:

- ``conformal-own``    (≥ OWN_MIN × h of this currency's scores in the phase at horizon h: h-day outcomes of
  consecutive days overlap, so that is about OWN_MIN independent ones): split conformal on them;
- ``conformal-pooled`` (≥ CONFORMAL_MIN scores of every currency in the phase): split conformal on those;
- ``bootstrap``        (BOOTSTRAP_MIN to CONFORMAL_MIN − 1): the quantile averaged over bootstrap
  resamples, widened 1.5× for the small sample;
- ``conservative``     (< BOOTSTRAP_MIN): a wide fixed band (±35% per √day at 95%) and no P(up).
"""

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from poeconomy_assets.core.features import league_phase
from poeconomy_assets.core.uncertainty.distribution import knots_from_halfwidths, normal_shape, prob_above

OWN_MIN = 30
CONFORMAL_MIN = 15
BOOTSTRAP_MIN = 5
BOOTSTRAP_WIDEN = 1.5
CONSERVATIVE_95_PER_SQRT_DAY = 0.35
Z80_OVER_Z95 = 1.2816 / 1.96
MIN_DAILY_VOL = 0.005  # a currency that has not moved for two weeks still can: floor its scale
PHASE_NAMES = ("launch week", "first month", "later")  # league_phase 0, 1, 2
SCALE_SOURCES = ("vol_14d", "vol_7d", "momentum_vol_3d")  # first non-null, in this order
OFFSET_NAMES = ("lower_95", "lower_80", "lower_50", "median", "upper_50", "upper_80", "upper_95")


def scale_expr(horizon_days: int) -> pl.Expr:
    """Volatility known at the forecast date × √horizon (null on the first days of a league)."""
    sources = [pl.col(c) for c in SCALE_SOURCES]
    return (pl.coalesce(sources).clip(lower_bound=MIN_DAILY_VOL) * math.sqrt(horizon_days)).alias("scale")


def _conformal_quantile(scores: np.ndarray, coverage: float, overlap: int = 1) -> float:
    """The split-conformal quantile, its finite-sample correction taken on the *independent* scores: outcomes
    ``overlap`` days long on consecutive days share days, so n of them carry about n / overlap residuals'
    worth of evidence."""
    n = max(1.0, scores.size / max(1, overlap))
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    return float(np.quantile(scores, level))


def _conservative(horizon_days: int) -> tuple[float, float]:
    half95 = CONSERVATIVE_95_PER_SQRT_DAY * math.sqrt(horizon_days)
    return half95 * Z80_OVER_Z95, half95


@dataclass(frozen=True)
class _Band:
    """One phase's calibrated distribution of scaled scores: its median and the 50/80/95% half-widths of the
    centred scores (conformal quantiles of |score − median|), in scale units."""

    method: str
    n: int
    center: float
    half50: float
    half80: float
    half95: float
    typical_scale: float  # stands in for a forecast whose own scale is unknown


def _band(scores: np.ndarray, scales: np.ndarray, method: str, seed: int, overlap: int = 1) -> _Band:
    typical = float(np.median(scales)) if scales.size else float("nan")
    center = float(np.median(scores))
    centred = np.abs(scores - center)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        draws = rng.choice(centred, size=(500, centred.size), replace=True)
        halves = np.quantile(draws, [0.50, 0.80, 0.95], axis=1).mean(axis=1) * BOOTSTRAP_WIDEN
        return _Band(method, scores.size, center, *map(float, halves), typical)
    halves = [_conformal_quantile(centred, level, overlap) for level in (0.50, 0.80, 0.95)]
    return _Band(method, scores.size, center, *halves, typical)


def _conservative_band(horizon_days: int, n: int) -> _Band:
    return _Band("conservative", n, 0.0, *normal_shape(_conservative(horizon_days)[1]), float("nan"))


class PhaseCalibrator:
    """Forecast distributions for one currency × horizon from its own walk-forward residuals and everyone's.

    ``own`` and ``pooled`` are frames with columns ``league_day``, ``scale`` (null allowed) and
    ``residual`` (actual − predicted log return); :func:`calibration_frame` builds them.
    """

    def __init__(
        self, own: pl.DataFrame, pooled: pl.DataFrame | None, horizon_days: int, seed: int = 0
    ) -> None:
        self.horizon_days = horizon_days
        self.bands: dict[int, _Band] = {}
        own_parts, pool_parts = _by_phase(own), _by_phase(pooled if pooled is not None else own)
        for phase in range(len(PHASE_NAMES)):
            own_scores, own_scales = own_parts[phase]
            pool_scores, pool_scales = pool_parts[phase]
            # h-day outcomes of consecutive days overlap: OWN_MIN independent residuals take h times as many.
            if own_scores.size >= OWN_MIN * horizon_days:
                self.bands[phase] = _band(own_scores, own_scales, "conformal-own", seed, horizon_days)
            elif pool_scores.size >= CONFORMAL_MIN:
                self.bands[phase] = _band(pool_scores, pool_scales, "conformal-pooled", seed, horizon_days)
            else:
                scores, scales = max((own_parts[phase], pool_parts[phase]), key=lambda p: p[0].size)
                if scores.size >= BOOTSTRAP_MIN:
                    self.bands[phase] = _band(scores, scales, "bootstrap", seed)
                else:
                    self.bands[phase] = _conservative_band(horizon_days, scores.size)

    def intervals(self, points: np.ndarray, league_days: np.ndarray, scales: np.ndarray) -> pl.DataFrame:
        """Per forecast: the distribution's knots as log offsets from the point (``lower_95`` … ``median`` …
        ``upper_95``), P(up) read from the same distribution (null with its reason when residuals are too
        few), method and n."""
        points = np.asarray(points, dtype=float)
        scales = np.asarray(scales, dtype=float)
        phases = league_phase(league_days)
        n = points.size
        center, h50, h80, h95 = (np.zeros(n) for _ in range(4))
        method = np.empty(n, dtype=object)
        count = np.zeros(n, dtype=np.int64)
        known = np.zeros(n, dtype=bool)
        for phase, band in self.bands.items():
            mask = phases == phase
            if not mask.any():
                continue
            method[mask], count[mask] = band.method, band.n
            scale = (
                1.0
                if band.method == "conservative"
                else np.where(np.isfinite(scales[mask]), scales[mask], band.typical_scale)
            )
            center[mask] = band.center * scale
            h50[mask], h80[mask], h95[mask] = band.half50 * scale, band.half80 * scale, band.half95 * scale
            known[mask] = band.method != "conservative"
        offsets = knots_from_halfwidths(center, h50, h80, h95)
        prob = np.where(known, prob_above(points[:, None] + offsets, 0.0) if n else np.zeros(0), np.nan)
        reason = [
            None if k else f"only {c} walk-forward residuals (need {BOOTSTRAP_MIN})"
            for k, c in zip(known, count)
        ]  # a plain list: an all-None object array cannot become strings
        return pl.DataFrame(
            {
                **{name: offsets[:, i] for i, name in enumerate(OFFSET_NAMES)},
                "prob_up": pl.Series(prob, dtype=pl.Float64).fill_nan(None),
                "prob_up_reason": pl.Series(reason, dtype=pl.Utf8),
                "interval_method": pl.Series(method.astype(str), dtype=pl.Utf8),
                "calibration_n": count,
            }
        )

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
        fill = (
            float(np.median(known))
            if known.size
            else float(np.nanmedian(scale))
            if np.isfinite(scale).any()
            else 1.0
        )
        s = np.where(np.isfinite(s), s, fill)
        out[phase] = (residual[mask] / s, s)
    return out
