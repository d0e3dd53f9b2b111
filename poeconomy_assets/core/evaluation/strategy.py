"""The track record: follow the report on a held-out league and see what it would have made, at fillable prices.

Every ``every_days`` days (default: the horizon, so holdings never overlap) from the league's first forecast
day, the report decides exactly as it would that day (``core.report.report.decide``: the same costs, edge,
eligibility, tradability, weights, caps and whole units, from the prices known that day). Each position is
bought at that day's ask and sold ``horizon`` days later at that day's bid (``core.report.execution``, the
one execution model), and priced by ``core.evaluation.replay``. Nothing compounds: each round spends at most
``budget`` chaos; what is not spent stays in chaos.

Compared, in chaos terms and under the same execution, with: holding chaos (0%), holding divines (bought at
the ask of the first round day it is tradable, sold at the last exit day's bid), an equal-weight basket of every forecast item
tradable that day, and perfect foresight (the ``max_positions`` best realized round trips of each round under
the same caps: an upper bound no forecast reaches). The drawdown comes from a daily mark-to-market curve.
"""

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from poeconomy_assets.core.evaluation.replay import (
    QuoteBook,
    max_drawdown,
    replay_rounds,
    return_from_trades,
)
from poeconomy_assets.core.prices import DIVINE
from poeconomy_assets.core.report import (
    MAX_POSITION_CHAOS,
    MIN_POSITION_CHAOS,
    ReportSettings,
    decide,
    entry_fill,
    execution_costs,
    exit_fill,
    position_units,
    with_costs,
)
from poeconomy_assets.core.schemas import HORIZON_DAYS

STRATEGY_BAND_COLUMNS = ("lower_50", "median_chaos", "upper_50", "prob_up")  # besides the 80/95% bounds
NEEDED = (
    "currency",
    "date",
    "price_chaos",
    "actual_chaos",
    "lower_95",
    "lower_80",
    "lower_50",
    "median_chaos",
    "upper_50",
    "upper_80",
    "upper_95",
    "prob_up",
)
BUDGET_CHAOS = 1000.0
EXECUTION = (
    "buy at the day's ask (sell side), sell at the exit day's bid (buy side, 1/Value of Get = Chaos Orb); "
    "a crossed quote (bid >= ask): both legs on the worse side; a missing bid: the ask less a "
    "conservative spread (75% quantile of comparable items' spreads, at least 5%); whole-chaos ticks; only "
    "days with both sides at High confidence are bought; whole units, at most "
    f"{MAX_POSITION_CHAOS:g} c x depth (share of the last 14 days the item was tradable), at least "
    f"{MIN_POSITION_CHAOS:g} c; no compounding"
)


@dataclass(frozen=True)
class StrategySettings:
    horizon: str = "7d"
    every_days: int | None = None  # None: the horizon's length (no overlapping holdings)
    budget: float = BUDGET_CHAOS  # chaos per round, never compounded
    report: ReportSettings = field(default_factory=ReportSettings)


class DailyCosts:
    """``execution_costs`` of the prices known on each decision day (computed once per day)."""

    def __init__(self, prices: pl.DataFrame, assumed_spread: float) -> None:
        self.prices, self.assumed_spread, self._cache = prices, assumed_spread, {}

    def known(self, day: dt.date) -> pl.DataFrame:
        return self.prices.filter(pl.col("date") <= day)

    def on(self, day: dt.date) -> pl.DataFrame:
        if day not in self._cache:
            self._cache[day] = execution_costs(self.known(day), assumed_spread=self.assumed_spread)
        return self._cache[day]


def _divine_price(prices: pl.DataFrame, day) -> float | None:
    rows = prices.filter((pl.col("currency") == DIVINE) & (pl.col("date") <= day)).sort("date")
    return None if rows.is_empty() else float(rows["price_chaos"][-1])


def equal_units(costs: pl.DataFrame, items: list[str], spend: float, max_share: float) -> dict[str, int]:
    """Whole units of an equal split of ``spend`` over ``items`` (each at most ``max_share``), with the caps."""
    rows = costs.filter(pl.col("currency").is_in(items))
    if rows.is_empty():
        return {}
    each = spend * min(1.0 / rows.height, max_share)
    units = position_units(
        np.full(rows.height, each), rows["entry_price"].to_numpy(), rows["depth"].to_numpy()
    )
    return {c: int(u) for c, u in zip(rows["currency"].to_list(), units) if u > 0}


def follow_the_report(
    points: pl.DataFrame, prices: pl.DataFrame, settings: StrategySettings = StrategySettings()
) -> dict:
    """The track record of the report on one league. ``points``: one forecast distribution per currency and
    date at ``settings.horizon`` with its outcome (columns ``NEEDED``); ``prices``: that league's daily prices
    (both sides where the source has them)."""
    missing = [c for c in NEEDED if c not in points.columns]
    if missing:
        raise ValueError(f"strategy points lack columns {missing}")
    days = HORIZON_DAYS[settings.horizon]
    step = settings.every_days or days
    rules = settings.report.rules
    points = (
        points.filter(pl.col("actual_chaos").is_not_null())
        .drop("forecast_chaos", strict=False)
        .rename({"median_chaos": "forecast_chaos"})
        .with_columns((pl.col("forecast_chaos") / pl.col("price_chaos") - 1).alias("expected_return"))
    )
    all_dates = sorted(points["date"].unique().to_list())
    dates = []
    for day in all_dates:
        if not dates or day >= dates[-1] + dt.timedelta(days=step):
            dates.append(day)
    book = QuoteBook(prices, settings.report.fee)
    costs = DailyCosts(prices, settings.report.fee)
    by_day = {d: frame for (d,), frame in points.partition_by("date", as_dict=True).items()}
    decisions: dict[dt.date, int] = {}

    def report_plan(day, spend):
        rows = with_costs(by_day[day], costs.on(day))
        known = costs.known(day)
        report_settings = ReportSettings(
            rules=replace(rules, budget=spend, budget_unit="chaos"),
            rank_horizon=settings.horizon,
            correlation_days=settings.report.correlation_days,
            fee=settings.report.fee,
        )
        decision = decide(rows, known, report_settings, _divine_price(prices, day))
        decisions[day] = int(decision["eligible"].sum())
        bought = decision.filter(pl.col("units") > 0)
        return dict(zip(bought["currency"].to_list(), bought["units"].cast(pl.Int64).to_list()))

    def tradable_items(day) -> list[str]:
        today = costs.on(day).filter(pl.col("tradable") & pl.col("currency").is_in(by_day[day]["currency"]))
        return today["currency"].to_list()

    def basket_plan(day, spend):
        return equal_units(costs.on(day), tradable_items(day), spend, 1.0)

    def foresight_plan(day, spend):
        today = costs.on(day)
        entry = dict(zip(today["currency"].to_list(), today["entry_price"].to_list()))
        realized = {
            item: book.sell(item, day + dt.timedelta(days=days))[2].price / entry[item] - 1
            for item in tradable_items(day)
        }
        best = sorted((i for i in realized if realized[i] > 0), key=lambda i: -realized[i])[
            : rules.max_positions
        ]
        return equal_units(today, best, spend, rules.max_position_share)

    strategy = replay_rounds(book, report_plan, dates, days, settings.budget)
    basket = replay_rounds(book, basket_plan, dates, days, settings.budget)
    foresight = replay_rounds(book, foresight_plan, dates, days, settings.budget)
    divine = hold_divines(book, dates, days, settings.budget)
    trades = strategy["trades"]
    recomputed = return_from_trades(trades, settings.budget)
    if abs(recomputed - strategy["return"]) > 1e-9:
        raise AssertionError(
            f"the strategy's return {strategy['return']} differs from its trades' {recomputed}"
        )
    curve = _merge_curves(strategy["curve"], basket["curve"], divine["curve"])
    return {
        "return": strategy["return"],
        "max_drawdown": strategy["max_drawdown"],
        "return_from_week_4": _return_from(
            trades, dates[0] + dt.timedelta(days=21) if dates else None, settings.budget
        ),
        "hit_rate": float(np.mean([t["pnl_chaos"] > 0 for t in trades])) if trades else None,
        "trades_count": len(trades),
        "trades": trades,
        "cost_chaos": float(sum(t["cost_chaos"] for t in trades)),
        "hold_chaos_return": 0.0,
        "hold_divine_return": divine["return"],
        "hold_divine_from": divine["start"],
        "basket_return": basket["return"],
        "basket_trades": len(basket["trades"]),
        "basket_max_drawdown": basket["max_drawdown"],
        "perfect_foresight_return": foresight["return"],
        "budget_chaos": settings.budget,
        "execution": EXECUTION,
        "costs": "bid/ask of the entry and exit days, fallback spread and tick (core.report.execution)",
        "horizon": settings.horizon,
        "every_days": step,
        "periods": len(dates),
        "periods_invested": len({t["entry_date"] for t in trades}),
        "min_edge": rules.min_edge,
        "curve": curve,
    }


def _return_from(trades: list[dict], start, budget: float) -> float | None:
    """The trades entered on or after ``start`` (after the league-launch inflation of the first weeks)."""
    if start is None:
        return None
    return return_from_trades([t for t in trades if dt.date.fromisoformat(t["entry_date"]) >= start], budget)


def hold_divines(book: QuoteBook, dates: list, horizon_days: int, budget: float) -> dict:
    """Buy whole divines on the first round day the Divine Orb is tradable (same execution as every trade),
    sell them at the last exit day's bid (daily marks between)."""
    start = next((d for d in dates if (q := book.quote(DIVINE, d)) is not None and entry_fill(q)), None)
    if start is None:
        return {"return": None, "curve": [], "start": None}
    price = entry_fill(book.quote(DIVINE, start)).price
    units = int(budget // price)
    if units < 1:
        return {"return": None, "curve": []}
    cash = budget - units * price
    end = dates[-1] + dt.timedelta(days=horizon_days)
    curve, day, last = [], start, price
    while day < end:
        quote = book.quote(DIVINE, day)
        if quote is not None:
            last = exit_fill(quote, book.fallback(DIVINE, day)).price
        curve.append({"date": str(day), "value": (cash + units * last) / budget})
        day += dt.timedelta(days=1)
    _, _, sale = book.sell(DIVINE, end)
    value = cash + units * sale.price
    curve.append({"date": str(end), "value": value / budget})
    return {
        "return": value / budget - 1,
        "curve": curve,
        "max_drawdown": max_drawdown([c["value"] for c in curve]),
        "start": str(start),
    }


def _merge_curves(strategy: list[dict], basket: list[dict], divine: list[dict]) -> list[dict]:
    """One row per day: the strategy's value and the comparisons' (null where a curve has no value)."""
    others = {
        "basket": {c["date"]: c["value"] for c in basket},
        "hold_divine": {c["date"]: c["value"] for c in divine},
    }
    return [
        {
            "date": c["date"],
            "strategy": c["value"],
            "hold_chaos": 1.0,
            **{name: values.get(c["date"]) for name, values in others.items()},
        }
        for c in strategy
    ]


def strategy_horizon(horizons) -> str:
    """The report's ranking horizon if it was forecast, else the longest one that was."""
    horizons = list(horizons)
    return "7d" if "7d" in horizons else max(horizons, key=HORIZON_DAYS.get)


def league_prices(prices: pl.DataFrame, league: str) -> pl.DataFrame:
    """The held-out league's daily prices (what the strategy knows day by day, and the divine's price)."""
    return prices.filter(pl.col("league") == league)
