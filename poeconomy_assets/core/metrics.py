"""Forecast scores, always next to persistence (price(t+h) = price(t)) on the same points."""

import numpy as np
import polars as pl

MOVE_THRESHOLD = 0.01  # direction accuracy counts only points whose actual move exceeds 1%


def score_points(price: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    """MASE, MAPE, MAE and direction accuracy of price forecasts (all in chaos)."""
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
        "mase": mae / mae_persistence if mae_persistence > 0 else float("nan"),
        "mape": float(np.mean(np.abs(actual - forecast) / actual)) if actual.size else float("nan"),
        "mae": mae,
        "mae_persistence": mae_persistence,
        "direction_accuracy": direction,
        "n": int(actual.size),
    }


def scorecard(points: pl.DataFrame) -> dict:
    """Per-currency scores and their average (MASE averaged over currencies) from columns
    currency, price_chaos, actual_chaos, forecast_chaos."""
    per_currency = {}
    for (currency,), rows in points.group_by("currency", maintain_order=True):
        per_currency[currency] = score_points(rows["price_chaos"].to_numpy(), rows["actual_chaos"].to_numpy(),
                                              rows["forecast_chaos"].to_numpy())
    pooled = score_points(points["price_chaos"].to_numpy(), points["actual_chaos"].to_numpy(),
                          points["forecast_chaos"].to_numpy())
    values = list(per_currency.values())
    return {
        "mase": float(np.nanmean([v["mase"] for v in values])) if values else float("nan"),
        "mape": pooled["mape"],
        "mae": pooled["mae"],
        "direction_accuracy": pooled["direction_accuracy"],
        "n": pooled["n"],
        "per_currency": {
            c: {k: v[k] for k in ("mase", "mape", "direction_accuracy", "n")} for c, v in sorted(per_currency.items())
        },
    }
