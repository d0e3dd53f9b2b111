"""Forecast scores, always next to persistence (price(t+h) = price(t)) on the same points.

The headline score is the *relative MAE* (:func:`relative_mae`): the forecast's mean absolute price error over
persistence's on the same points, below 1 beats persistence. The backtest JSON, the asset metadata and the
tables call it ``rel_mae``. It is not Hyndman's MASE, which divides by the in-sample error of the naive
forecast rather than by persistence's error on the scored points; files written before the rename (model
manifests, backtest JSON) call it ``mase``, and :func:`with_current_names` is the one place that reads them.
"""

import numpy as np
import polars as pl

MOVE_THRESHOLD = 0.01  # direction accuracy counts only points whose actual move exceeds 1%


def relative_mae(
    price: np.ndarray, actual: np.ndarray, forecast: np.ndarray, groups: np.ndarray | None = None
) -> float:
    """MAE of ``forecast`` over the MAE of persistence (``price``, the price at forecast time) on the same points.

    With ``groups`` (non-negative integer codes, one per point, e.g. the currency) the ratio is taken per group
    and averaged over the groups, so each currency counts once however many points it has. A group whose
    persistence error is 0 (its price never moved) has no ratio and is left out; NaN when none is left."""
    price, actual, forecast = (np.asarray(a, dtype=float) for a in (price, actual, forecast))
    codes = np.zeros(actual.size, dtype=np.int64) if groups is None else np.asarray(groups)
    model_error = np.bincount(codes, weights=np.abs(actual - forecast))
    persistence_error = np.bincount(codes, weights=np.abs(actual - price))
    scored = persistence_error > 0
    return float(np.mean(model_error[scored] / persistence_error[scored])) if scored.any() else float("nan")


# Keys of files written before the ``mase`` -> ``rel_mae`` rename, and their current names.
LEGACY_NAMES = {
    "mase": "rel_mae",
    "worst_mase": "worst_rel_mae",
    "per_league_mase": "per_league_rel_mae",
    "validation_mase_all_folds": "validation_rel_mae_all_folds",
    "scope_mase": "scope_rel_mae",
}


def with_current_names(scores: dict) -> dict:
    """``scores`` (nested dicts too) with keys written before the rename under their current names; where a
    file has both, the current key wins."""
    current = {}
    for key, value in scores.items():
        name = LEGACY_NAMES.get(key, key)
        if name == key or name not in scores:
            current[name] = with_current_names(value) if isinstance(value, dict) else value
    return current


def score_points(price: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    """Relative MAE (key ``rel_mae``, see the module docstring), MAPE, MAE and direction accuracy of price
    forecasts (all in chaos)."""
    price, actual, forecast = (np.asarray(a, dtype=float) for a in (price, actual, forecast))
    mae = float(np.mean(np.abs(actual - forecast))) if actual.size else float("nan")
    mae_persistence = float(np.mean(np.abs(actual - price))) if actual.size else float("nan")
    moved = np.abs(actual / price - 1.0) > MOVE_THRESHOLD
    direction = (
        float(np.mean(np.sign(forecast[moved] - price[moved]) == np.sign(actual[moved] - price[moved])))
        if moved.any()
        else float("nan")
    )
    return {
        "rel_mae": relative_mae(price, actual, forecast),
        "mape": float(np.mean(np.abs(actual - forecast) / actual)) if actual.size else float("nan"),
        "mae": mae,
        "mae_persistence": mae_persistence,
        "direction_accuracy": direction,
        "n": int(actual.size),
    }


INTERVAL_COLUMNS = ("lower_80", "upper_80", "lower_95", "upper_95")
PERSISTENCE_INTERVAL_COLUMNS = ("persistence_lower_80", "persistence_upper_80")
INTERVAL_KEYS = (
    "coverage_80",
    "coverage_95",
    "mean_relative_width",
    "persistence_coverage_80",
    "persistence_relative_width",
)


def score_intervals(rows: pl.DataFrame) -> dict[str, float]:
    """Share of actual prices inside the 80% and 95% intervals, and the mean 80% width relative to the
    price at forecast time; the same for a band around persistence when its columns are there."""
    if rows.is_empty() or not set(INTERVAL_COLUMNS) <= set(rows.columns):
        return {}
    actual, price = rows["actual_chaos"].to_numpy(), rows["price_chaos"].to_numpy()

    def inside(lower: str, upper: str) -> float:
        return float(np.mean((actual >= rows[lower].to_numpy()) & (actual <= rows[upper].to_numpy())))

    scores = {
        "coverage_80": inside("lower_80", "upper_80"),
        "coverage_95": inside("lower_95", "upper_95"),
        "mean_relative_width": float(np.mean((rows["upper_80"] - rows["lower_80"]).to_numpy() / price)),
    }
    if set(PERSISTENCE_INTERVAL_COLUMNS) <= set(rows.columns):
        scores["persistence_coverage_80"] = inside(*PERSISTENCE_INTERVAL_COLUMNS)
        scores["persistence_relative_width"] = float(
            np.mean((rows["persistence_upper_80"] - rows["persistence_lower_80"]).to_numpy() / price)
        )
    return scores


def scorecard(points: pl.DataFrame) -> dict:
    """Per-currency scores and their average (relative MAE averaged over currencies) from columns
    currency, price_chaos, actual_chaos, forecast_chaos; with interval columns (lower/upper 80/95,
    optionally persistence_lower/upper_80) also coverage and relative width, pooled over points."""
    per_currency = {}
    for (currency,), rows in points.group_by("currency", maintain_order=True):
        per_currency[currency] = score_points(
            rows["price_chaos"].to_numpy(), rows["actual_chaos"].to_numpy(), rows["forecast_chaos"].to_numpy()
        ) | score_intervals(rows)
    pooled = score_points(
        points["price_chaos"].to_numpy(),
        points["actual_chaos"].to_numpy(),
        points["forecast_chaos"].to_numpy(),
    )
    values = list(per_currency.values())
    return score_intervals(points) | {
        "rel_mae": float(np.nanmean([v["rel_mae"] for v in values])) if values else float("nan"),
        "mape": pooled["mape"],
        "mae": pooled["mae"],
        "direction_accuracy": pooled["direction_accuracy"],
        "n": pooled["n"],
        "per_currency": {
            c: {k: v[k] for k in ("rel_mae", "mape", "direction_accuracy", "n", *INTERVAL_KEYS) if k in v}
            for c, v in sorted(per_currency.items())
        },
    }
