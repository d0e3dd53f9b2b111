"""The execution model (issue 20): fills at the prices one really gets, as properties over random quotes."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from poeconomy_assets.core.report.execution import (
    MIN_QUOTED_SPREAD,
    MIN_SPREAD,
    SPREAD_DAYS,
    Quote,
    entry_fill,
    execution_costs,
    exit_fill,
    position_units,
    tick_down,
    tick_up,
)

prices = st.floats(min_value=1e-3, max_value=1e5, allow_nan=False, allow_infinity=False)
confidence = st.sampled_from(["High", "Medium", "Low"])
spreads = st.floats(min_value=0.0, max_value=0.9)


@given(prices)
def test_ticks_never_favour_the_trader(price: float) -> None:
    assert tick_up(price) >= price * (1 - 1e-9) and tick_down(price) <= price * (1 + 1e-9)
    if 1 <= price:
        assert tick_up(price) == int(tick_up(price)) and tick_down(price) == int(tick_down(price)), (
            "whole chaos"
        )


@given(prices, prices, confidence, confidence, spreads)
def test_no_entry_below_the_ask_and_no_exit_above_the_bid(ask, bid, ask_conf, bid_conf, spread) -> None:
    quote = Quote(ask, bid, ask_conf, bid_conf)
    bought = entry_fill(quote)
    assert (bought is not None) == (ask_conf == bid_conf == "High"), "only both sides at High confidence"
    if bought is not None:
        assert bought.price >= ask * (1 - 1e-9)
    sold = exit_fill(quote, spread)
    assert sold.price <= bid * (1 + 1e-9) and sold.price <= ask * (1 + 1e-9)
    assert exit_fill(Quote(ask, None, ask_conf, None), spread).price <= ask * (1 - MIN_SPREAD) * (1 + 1e-9), (
        "a missing bid costs at least the minimum spread, never zero"
    )


@given(prices, st.floats(min_value=1.0, max_value=3.0), spreads)
def test_a_crossed_quote_is_never_a_discount(ask, cross, spread) -> None:
    """Bid above ask: both legs on the worse side, so the round trip at that quote never gains."""
    quote = Quote(ask, ask * cross, "High", "High")
    bought, sold = entry_fill(quote), exit_fill(quote, spread)
    assert bought.price >= max(quote.ask, quote.bid) * (1 - 1e-9)
    assert sold.price <= min(quote.ask, quote.bid) * (1 + 1e-9)
    assert sold.price <= bought.price


@given(
    st.lists(
        st.tuples(st.floats(min_value=1.0, max_value=500.0), st.floats(min_value=0.5, max_value=2.0)),
        min_size=3,
        max_size=SPREAD_DAYS,
    )
)
def test_a_crossed_day_never_lowers_the_estimated_cost(days) -> None:
    """The report's cost counts a crossed day at its gap (at least MIN_QUOTED_SPREAD), never as free."""
    start = date(2024, 1, 1)
    rows = [
        {
            "currency": "X",
            "date": start + timedelta(days=i),
            "price_chaos": ask,
            "buy_price_chaos": ask * ratio,
            "confidence": "High",
            "buy_confidence": "High",
        }
        for i, (ask, ratio) in enumerate(days)
    ]
    costs = execution_costs(pl.DataFrame(rows)).row(0, named=True)
    assert costs["spread"] >= MIN_QUOTED_SPREAD and costs["cost"] > 0
    uncrossed = [
        {**r, "buy_price_chaos": min(r["buy_price_chaos"], r["price_chaos"] * (1 - MIN_QUOTED_SPREAD))}
        for r in rows
    ]
    gaps = sorted(max(abs(1 - r["buy_price_chaos"] / r["price_chaos"]), MIN_QUOTED_SPREAD) for r in rows)
    assert costs["spread"] == pytest.approx(np.median(gaps))
    assert execution_costs(pl.DataFrame(uncrossed))["spread"][0] >= MIN_QUOTED_SPREAD


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=5000.0), prices, st.floats(min_value=0.0, max_value=1.0)
        ),
        min_size=1,
        max_size=20,
    ),
    st.floats(min_value=10.0, max_value=1000.0),
    st.floats(min_value=0.0, max_value=50.0),
)
def test_positions_are_whole_units_within_the_cap(rows, cap, minimum) -> None:
    chaos, price, depth = (np.array(column, dtype=float) for column in zip(*rows))
    units = position_units(chaos, price, depth, cap, minimum)
    assert units.dtype.kind == "i" and (units >= 0).all()
    held = units > 0
    assert (units[held] * price[held] <= np.minimum(chaos, cap * depth)[held] * (1 + 1e-6)).all()
    assert (units[held] * price[held] >= minimum).all()
