"""Replay planned positions against the day-by-day quotes: fills, trades, and a daily mark-to-market curve.

Every comparison of the track record (following the report, the equal-weight basket, perfect foresight) is a
list of *rounds*: on a day, buy these whole units of these items; sell them all ``horizon`` days later. This
module prices them all with the one execution model (``core.report.execution``): buy at that day's ask
(ticked up), sell at the exit day's bid (ticked down) or its conservative fallback. Nothing compounds: a round
spends at most ``budget`` chaos (less if earlier rounds lost money), whatever it does not spend stays in chaos.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from poeconomy_assets.core.report import (
    ASSUMED_SPREAD,
    MAX_EXIT_DELAY_DAYS,
    Fill,
    Quote,
    entry_fill,
    exit_fill,
    fallback_spreads,
    is_one_sided,
    with_quote_columns,
)


class QuoteBook:
    """Every (item, day) quote of one league, and the conservative fallback spread of each day."""

    def __init__(self, prices: pl.DataFrame, assumed_spread: float = ASSUMED_SPREAD) -> None:
        self.prices, self.assumed_spread = prices, assumed_spread
        quotes = with_quote_columns(prices)
        one_sided = is_one_sided(prices)
        self.quotes: dict[tuple[str, dt.date], Quote] = {
            (r["currency"], r["date"]): Quote(
                r["price_chaos"], r["buy_price_chaos"], r["confidence"], r["buy_confidence"], one_sided
            )
            for r in quotes.select(
                "currency", "date", "price_chaos", "buy_price_chaos", "confidence", "buy_confidence"
            ).iter_rows(named=True)
        }
        self.dates = sorted(set(quotes["date"].to_list()))
        self._fallback: dict[dt.date, dict[str, float]] = {}

    def quote(self, item: str, day: dt.date) -> Quote | None:
        return self.quotes.get((item, day))

    def fallback(self, item: str, day: dt.date) -> float:
        """The conservative spread of ``item`` from the prices known on ``day``."""
        if day not in self._fallback:
            known = self.prices.filter(pl.col("date") <= day)
            frame = (
                fallback_spreads(known, assumed_spread=self.assumed_spread)
                if known.height
                else pl.DataFrame({"currency": [], "fallback_spread": []})
            )
            self._fallback[day] = dict(zip(frame["currency"].to_list(), frame["fallback_spread"].to_list()))
        values = self._fallback[day]
        return values.get(item, max(values.values(), default=self.assumed_spread))

    def exit_quote(self, item: str, day: dt.date) -> tuple[dt.date, Quote | None]:
        """The first quoted day of ``item`` from ``day`` on (within MAX_EXIT_DELAY_DAYS), and its quote."""
        for delay in range(MAX_EXIT_DELAY_DAYS + 1):
            when = day + dt.timedelta(days=delay)
            if (quote := self.quote(item, when)) is not None:
                return when, quote
        return day, None

    def sell(self, item: str, day: dt.date) -> tuple[dt.date, Quote | None, Fill]:
        when, quote = self.exit_quote(item, day)
        return when, quote, exit_fill(quote, self.fallback(item, when))


@dataclass(frozen=True)
class Round:
    day: dt.date
    exit_day: dt.date
    units: dict[str, int]  # item → whole units bought at that day's ask


def trade_record(book: QuoteBook, item: str, units: int, day: dt.date, exit_day: dt.date) -> dict | None:
    """One round trip, as the backtest JSON's ``strategy.trades`` lists it (None: the day is not tradable)."""
    entry_quote = book.quote(item, day)
    entry = entry_fill(entry_quote) if entry_quote else None
    if entry is None or units <= 0:
        return None
    sold_on, exit_quote, sale = book.sell(item, exit_day)
    exit_ask = exit_quote.ask if exit_quote and exit_quote.ask is not None else sale.reference
    cost = units * ((entry.price - entry.reference) + (exit_ask - sale.price))
    return {
        "item": item,
        "entry_date": str(day),
        "exit_date": str(sold_on),
        "units": int(units),
        "entry_price": entry.price,
        "exit_price": sale.price,
        "entry_side": entry.side,
        "exit_side": sale.side,
        "entry_ask": entry_quote.ask,
        "entry_bid": entry_quote.bid,
        "exit_ask": exit_quote.ask if exit_quote else None,
        "exit_bid": exit_quote.bid if exit_quote else None,
        "entry_confidence": entry_quote.confidence,
        "exit_confidence": exit_quote.confidence if exit_quote else "none",
        "cost_chaos": cost,
        "pnl_chaos": units * (sale.price - entry.price),
    }


def mark(book: QuoteBook, item: str, day: dt.date, last: float) -> float:
    """What one unit would fetch if sold on ``day`` (the last mark when the item is not quoted that day)."""
    quote = book.quote(item, day)
    return last if quote is None else exit_fill(quote, book.fallback(item, day)).price


def replay_rounds(book: QuoteBook, plan, days: list[dt.date], horizon_days: int, budget: float) -> dict:
    """Run ``plan(day, spendable_chaos) -> {item: units}`` on each of ``days`` (positions held ``horizon_days``).

    Returns ``trades`` (``trade_record`` rows), ``return`` (the chaos gained over ``budget``), ``curve``
    (the value each calendar day: chaos plus open positions at what they would fetch that day) and
    ``max_drawdown`` of that curve."""
    cash, trades, open_positions, curve = budget, [], [], []
    if not days:
        return {"trades": [], "return": 0.0, "curve": [], "max_drawdown": 0.0}
    end = days[-1] + dt.timedelta(days=horizon_days + MAX_EXIT_DELAY_DAYS)
    rounds = {d: None for d in days}
    day = days[0]
    marks: dict[tuple[int, str], float] = {}
    while day <= end:
        for position in [
            p for p in open_positions if p["sold_on"] == day
        ]:  # exits first: their chaos is free
            cash += position["units"] * position["exit_price"]
            open_positions.remove(position)
        if day in rounds:
            spend = max(0.0, min(budget, cash))
            for item, units in plan(day, spend).items():
                record = trade_record(book, item, units, day, day + dt.timedelta(days=horizon_days))
                if record is None or record["units"] * record["entry_price"] > cash + 1e-9:
                    continue
                cash -= record["units"] * record["entry_price"]
                trades.append(record)
                open_positions.append(
                    {
                        "units": record["units"],
                        "exit_price": record["exit_price"],
                        "sold_on": dt.date.fromisoformat(record["exit_date"]),
                        "item": item,
                        "id": len(trades),
                        "entry_price": record["entry_price"],
                    }
                )
        value = cash
        for p in open_positions:
            key = (p["id"], p["item"])
            marks[key] = mark(book, p["item"], day, marks.get(key, p["entry_price"]))
            value += p["units"] * marks[key]
        curve.append({"date": str(day), "value": value / budget})
        if day > days[-1] and not open_positions:
            break
        day += dt.timedelta(days=1)
    pnl = float(sum(t["pnl_chaos"] for t in trades))
    values = np.array([1.0] + [c["value"] for c in curve])
    return {"trades": trades, "return": pnl / budget, "curve": curve, "max_drawdown": max_drawdown(values)}


def max_drawdown(values) -> float:
    """The largest fall from a running peak, as a fraction of that peak (0 when it never falls)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(values)
    return float(np.max((peaks - values) / peaks))


def return_from_trades(trades: list[dict], budget: float) -> float:
    """The return the ``trades`` list adds up to: Σ units × (exit − entry) / budget."""
    return float(sum(t["units"] * (t["exit_price"] - t["entry_price"]) for t in trades)) / budget
