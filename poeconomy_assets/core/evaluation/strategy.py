"""The track record: follow the report on a held-out league and see what it would have made.

Every ``every_days`` days (default: the horizon, so holdings never overlap) from the league's first forecast
day: allocate the budget exactly as the report would that day (``core.report.report.decide``: the same
eligibility, minimum edge, inverse-volatility weights and caps, with data quality, liquidity and correlation
from the prices known that day), buy at that day's price, hold for the horizon, sell at the realized price
minus the round-trip cost (the bid/ask spread where the prices carry the buy side, else ``fee``). Whatever is
not allocated stays in chaos. The value compounds from one period to the next.

Compared, in chaos terms, with holding chaos (0% by definition) and holding divines over the same span.
Reported: final return, max drawdown of the value curve, hit rate (share of positions sold above their cost
after fees), trades (positions opened) and the curve itself.
"""

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from poeconomy_assets.core.prices import DIVINE
from poeconomy_assets.core.report.costs import DEFAULT_FEE, has_both_sides, round_trip_costs
from poeconomy_assets.core.report.report import ReportSettings, decide, with_costs
from poeconomy_assets.core.schemas import HORIZON_DAYS

STRATEGY_BAND_COLUMNS = ("lower_50", "median_chaos", "upper_50", "prob_up")  # besides the 80/95% bounds
NEEDED = ("currency", "date", "price_chaos", "actual_chaos", "lower_95", "lower_80", "lower_50", "median_chaos",
          "upper_50", "upper_80", "upper_95", "prob_up")


@dataclass(frozen=True)
class StrategySettings:
    horizon: str = "7d"
    every_days: int | None = None  # None: the horizon's length (no overlapping holdings)
    fee: float = DEFAULT_FEE  # round-trip cost where the prices have no buy side
    report: ReportSettings = field(default_factory=ReportSettings)


def max_drawdown(values: np.ndarray) -> float:
    """The largest fall from a running peak, as a fraction of that peak (0 when it never falls)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(values)
    return float(np.max((peaks - values) / peaks))


def _divine_price(prices: pl.DataFrame, day) -> float | None:
    rows = prices.filter((pl.col("currency") == DIVINE) & (pl.col("date") <= day)).sort("date")
    return None if rows.is_empty() else float(rows["price_chaos"][-1])


def follow_the_report(points: pl.DataFrame, prices: pl.DataFrame,
                      settings: StrategySettings = StrategySettings()) -> dict:
    """The track record of the report on one league. ``points``: one forecast distribution per currency and
    date at ``settings.horizon`` with its outcome (columns ``NEEDED``); ``prices``: that league's daily prices."""
    missing = [c for c in NEEDED if c not in points.columns]
    if missing:
        raise ValueError(f"strategy points lack columns {missing}")
    days = HORIZON_DAYS[settings.horizon]
    step = settings.every_days or days
    rules = replace(settings.report.rules, budget=1.0, budget_unit="chaos")  # results as fractions of the budget
    report_settings = ReportSettings(rules=rules, rank_horizon=settings.horizon,
                                     correlation_days=settings.report.correlation_days, fee=settings.fee)
    points = (points.filter(pl.col("actual_chaos").is_not_null()).drop("forecast_chaos", strict=False)
              .rename({"median_chaos": "forecast_chaos"})
              .with_columns((pl.col("forecast_chaos") / pl.col("price_chaos") - 1).alias("expected_return")))
    dates = sorted(points["date"].unique().to_list())
    value, divine_value = 1.0, 1.0
    start_divine = _divine_price(prices, dates[0]) if dates else None
    curve, trades, wins = [], 0, 0
    day = dates[0] if dates else None
    while day is not None:
        known = prices.filter(pl.col("date") <= day)
        rows = with_costs(points.filter(pl.col("date") == day), round_trip_costs(known, settings.fee))
        decision = decide(rows, known, report_settings, _divine_price(prices, day)).join(
            rows.select("currency", "actual_chaos"), on="currency", how="left")
        bought = decision.filter(pl.col("weight") > 0)
        net = (bought["actual_chaos"] / bought["price_chaos"] * (1 - bought["cost"])).to_numpy()
        weights = bought["weight"].to_numpy()
        value *= 1 + float(np.sum(weights * (net - 1)))
        trades += bought.height
        wins += int(np.sum(net > 1))
        end = day + dt.timedelta(days=days)
        end_divine = _divine_price(prices, end)
        if start_divine and end_divine:
            divine_value = end_divine / start_divine
        curve.append({"date": str(end), "strategy": value, "hold_chaos": 1.0,
                      "hold_divine": divine_value if start_divine else None, "positions": bought.height,
                      "invested": float(weights.sum())})
        day = min((d for d in dates if d >= day + dt.timedelta(days=step)), default=None)
    values = np.array([1.0] + [c["strategy"] for c in curve])
    return {
        "return": value - 1.0,
        "max_drawdown": max_drawdown(values),
        "hit_rate": wins / trades if trades else None,
        "trades": trades,
        "hold_chaos_return": 0.0,
        "hold_divine_return": divine_value - 1.0 if start_divine else None,
        "fee": settings.fee,
        "costs": "bid/ask spread (fee where an item has no buy-side price)" if has_both_sides(prices)
        else "the fee (the prices carry no buy side)",
        "horizon": settings.horizon,
        "every_days": step,
        "periods": len(curve),
        "periods_invested": sum(1 for c in curve if c["positions"]),
        "min_edge": rules.min_edge,
        "curve": curve,
    }


def strategy_horizon(horizons) -> str:
    """The report's ranking horizon if it was forecast, else the longest one that was."""
    horizons = list(horizons)
    return "7d" if "7d" in horizons else max(horizons, key=HORIZON_DAYS.get)


def league_prices(prices: pl.DataFrame, league: str) -> pl.DataFrame:
    """The held-out league's daily prices (what the strategy knows day by day, and the divine's price)."""
    return prices.filter(pl.col("league") == league)
