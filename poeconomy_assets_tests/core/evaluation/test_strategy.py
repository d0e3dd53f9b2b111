"""The track record under the execution model (issue 20): zero skill makes no trades, random forecasts lose
about the costs, an oracle makes money, and every trade is fillable and adds up to the reported return."""

import itertools
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.evaluation.replay import return_from_trades
from poeconomy_assets.core.evaluation.strategy import StrategySettings, follow_the_report
from poeconomy_assets.core.report.execution import MAX_POSITION_CHAOS

START = date(2024, 1, 1)
DAYS, ITEMS, SPREAD = 120, 12, 0.05


def _market(seed: int = 0) -> pl.DataFrame:
    """A martingale market: each ask a driftless (in expectation) random walk, the bid 5% below, both High."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(ITEMS):
        name = "Divine Orb" if i == 0 else f"Item {i}"
        steps = rng.normal(-(0.02**2) / 2, 0.02, DAYS)
        ask = (30.0 + 10 * i) * np.exp(np.cumsum(steps))
        for d in range(DAYS):
            rows.append(
                {
                    "league": "L",
                    "currency": name,
                    "date": START + timedelta(days=d),
                    "price_chaos": ask[d],
                    "confidence": "High",
                    "buy_price_chaos": ask[d] * (1 - SPREAD),
                    "buy_confidence": "High",
                }
            )
    return pl.DataFrame(rows)


def _points(prices: pl.DataFrame, kind: str, seed: int = 1) -> pl.DataFrame:
    """7-day forecasts from day 14 on: persistence, random or the oracle (the realized ask)."""
    rng = np.random.default_rng(seed)
    ahead = prices.select(
        "currency",
        (pl.col("date") - timedelta(days=7)).alias("date"),
        pl.col("price_chaos").alias("actual_chaos"),
    )
    rows = prices.filter(pl.col("date") >= START + timedelta(days=14)).join(ahead, on=["currency", "date"])
    price, actual = rows["price_chaos"].to_numpy(), rows["actual_chaos"].to_numpy()
    median = {
        "persistence": price,
        "oracle": actual,
        "random": price * np.exp(rng.normal(0, 0.15, rows.height)),
    }[kind]
    width = 0.01 if kind == "oracle" else 0.1
    return rows.select("currency", "date", "price_chaos", "actual_chaos").with_columns(
        pl.Series("median_chaos", median),
        *[
            pl.Series(name, median * np.exp(z * width))
            for name, z in (
                ("lower_95", -1.96),
                ("lower_80", -1.28),
                ("lower_50", -0.67),
                ("upper_50", 0.67),
                ("upper_80", 1.28),
                ("upper_95", 1.96),
            )
        ],
        pl.Series("prob_up", (median > price).astype(float) * 0.8 + 0.1),
    )


def _follow(kind: str) -> tuple[dict, pl.DataFrame]:
    prices = _market()
    return follow_the_report(_points(prices, kind), prices, StrategySettings(horizon="7d")), prices


def _check_trades(strategy: dict, prices: pl.DataFrame) -> None:
    """Every trade fillable: bought at or above that day's ask, sold at or below that day's bid, whole units
    within the cap; and the reported return is the one the trades add up to."""
    quotes = {(r["currency"], str(r["date"])): r for r in prices.iter_rows(named=True)}
    for t in strategy["trades"]:
        entry, exit_ = quotes[(t["item"], t["entry_date"])], quotes[(t["item"], t["exit_date"])]
        assert t["entry_price"] >= entry["price_chaos"] - 1e-9 and t["entry_side"] == "ask"
        assert t["exit_price"] <= exit_["buy_price_chaos"] + 1e-9 and t["exit_side"] == "bid"
        assert isinstance(t["units"], int) and t["units"] >= 1
        assert t["units"] * t["entry_price"] <= MAX_POSITION_CHAOS + 1e-6
    assert strategy["return"] == pytest.approx(
        return_from_trades(strategy["trades"], strategy["budget_chaos"]), abs=1e-12
    )


def test_persistence_forecasts_make_no_trades() -> None:
    strategy, _prices = _follow("persistence")
    assert strategy["trades"] == [] and strategy["return"] == 0.0, "no skill: nothing clears the costs"
    assert strategy["basket_return"] < 0, "the basket pays the spread for nothing"


def test_random_forecasts_lose_about_the_costs() -> None:
    strategy, prices = _follow("random")
    _check_trades(strategy, prices)
    trades = strategy["trades"]
    assert len(trades) >= 30
    costs = strategy["cost_chaos"] / strategy["budget_chaos"]
    assert strategy["return"] < 0
    # net = (what the quoted asks did, zero on average in a martingale market) − what the spread and ticks cost
    assert strategy["return"] == pytest.approx(-costs, abs=0.5 * costs)


def test_oracle_forecasts_make_money() -> None:
    strategy, prices = _follow("oracle")
    _check_trades(strategy, prices)
    assert strategy["return"] > 0.05 and strategy["hit_rate"] > 0.8
    assert strategy["perfect_foresight_return"] > 0.05


def test_drawdown_comes_from_a_daily_curve() -> None:
    strategy, _ = _follow("random")
    curve = strategy["curve"]
    days = [date.fromisoformat(c["date"]) for c in curve]
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(days))
    values = np.array([1.0] + [c["strategy"] for c in curve])
    assert strategy["max_drawdown"] == pytest.approx(
        float(np.max(1 - values / np.maximum.accumulate(values)))
    )
    assert strategy["max_drawdown"] > 0, "marked at the bid, every purchase shows its spread at once"
