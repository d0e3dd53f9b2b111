"""The market signal of the full dumps: spread, Confidence, breadth and tier, from past days only."""

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from poeconomy_assets.core.features.market_signal import market_signal, signal_columns

START = dt.date(2024, 1, 1)


def _prices(days: int = 12, seed: int = 0) -> pl.DataFrame:
    """Three items of one league; item C skips day 5 (a hole); the buy side is 10% under the sell side, 20% for B."""
    rng = np.random.default_rng(seed)
    rows = []
    for item, level, gap in (("A", 10.0, 0.1), ("B", 0.5, 0.2), ("C", 200.0, 0.1)):
        price = level
        for d in range(days):
            price *= math.exp(rng.normal(0, 0.05))
            if item == "C" and d == 5:
                continue
            rows.append(
                {
                    "league": "L",
                    "currency": item,
                    "date": START + dt.timedelta(days=d),
                    "price_chaos": price,
                    "buy_price_chaos": price / math.exp(gap),
                    "confidence": "Low" if d % 4 == 0 else "High",
                }
            )
    return pl.DataFrame(rows).with_columns(
        (pl.col("price_chaos") / pl.col("buy_price_chaos")).log().alias("log_spread")
    )


def test_spread_confidence_and_tier_values() -> None:
    signal = market_signal(_prices()).sort("currency", "date")
    b = signal.filter(pl.col("currency") == "B")
    assert b["spread"].to_list() == pytest.approx([0.2] * 12)
    assert (
        b["spread_change_1d"].to_list()[1:] == pytest.approx([0.0] * 11) and b["spread_change_1d"][0] is None
    )
    assert b["confidence_level"].to_list()[:4] == [2, 0, 0, 0]
    assert b["not_high_share_7d"][3] == pytest.approx(1 / 4)  # days 0..3: one Low
    c = signal.filter(pl.col("currency") == "C")
    assert c.filter(pl.col("date") == START + dt.timedelta(days=6))["spread_change_1d"][0] is None, (
        "day 6 of C follows a hole: yesterday is missing, not the row before"
    )
    assert signal.filter(pl.col("date") == START)["price_rank"].sort().to_list() == pytest.approx(
        [1 / 6, 1 / 2, 5 / 6]
    )


def test_breadth_counts_the_items_that_moved_that_day() -> None:
    prices = _prices()
    signal = market_signal(prices)
    ret = prices.sort("currency", "date").with_columns(
        pl.col("price_chaos").log().diff().over("currency").alias("ret")
    )
    day3 = ret.filter(pl.col("date") == START + dt.timedelta(days=3))
    row = signal.filter(pl.col("date") == START + dt.timedelta(days=3)).row(0, named=True)
    assert row["breadth_up"] == pytest.approx((day3["ret"] > 0.005).mean())
    assert row["breadth_down"] == pytest.approx((day3["ret"] < -0.005).mean())
    assert row["breadth_net"] == pytest.approx(row["breadth_up"] - row["breadth_down"])


@pytest.mark.parametrize("cut_day", [3, 7])
def test_no_look_ahead(cut_day: int) -> None:
    """Changing every price, buy price and confidence after day t leaves every signal at day t unchanged."""
    prices = _prices()
    cut = START + dt.timedelta(days=cut_day)
    later = pl.col("date") > cut
    shocked = prices.with_columns(
        pl.when(later).then(pl.col("price_chaos") * 3).otherwise(pl.col("price_chaos")).alias("price_chaos"),
        pl.when(later)
        .then(pl.col("buy_price_chaos") / 5)
        .otherwise(pl.col("buy_price_chaos"))
        .alias("buy_price_chaos"),
        pl.when(later).then(pl.lit("Medium")).otherwise(pl.col("confidence")).alias("confidence"),
    ).with_columns((pl.col("price_chaos") / pl.col("buy_price_chaos")).log().alias("log_spread"))
    columns = ["league", "currency", "date", *signal_columns()]
    before = market_signal(prices).filter(~later).select(columns).sort("currency", "date")
    after = market_signal(shocked).filter(~later).select(columns).sort("currency", "date")
    assert_frame_equal(before, after)


def test_one_sided_prices_give_a_null_spread() -> None:
    """POE Watch days and the old dumps have no buy side: the spread family is null, the others are not."""
    signal = market_signal(_prices().drop("buy_price_chaos", "log_spread"))
    assert signal["spread"].null_count() == signal.height and signal["spread_known"].sum() == 0
    assert signal["breadth_up"].null_count() < signal.height and signal["price_rank"].null_count() == 0


def test_rejects_two_rows_for_one_day() -> None:
    """Yesterday is the row before: a repeated (league, currency, date) would make it today."""
    prices = _prices()
    with pytest.raises(ValueError, match="one row per"):
        market_signal(pl.concat([prices, prices.head(1)]))


def test_sticky_prices_count_their_unchanged_days_and_ticks() -> None:
    """A price that sits on whole chaos: 3, 3, 4, 4, (no day 5), 4, 4.5, 4.5; one-sided B never moves."""
    day = [START + dt.timedelta(days=d) for d in (0, 1, 2, 3, 5, 6, 7)]
    prices = pl.DataFrame(
        {
            "league": "L",
            "currency": ["A"] * 7 + ["B"] * 3,
            "date": day + day[:3],
            "price_chaos": [3.0, 3.0, 4.0, 4.0, 4.0, 4.5, 4.5, 10.0, 10.0, 10.0],
            "buy_price_chaos": [2.9] * 7 + [None] * 3,
        }
    )
    a, b = (market_signal(prices, ["sticky"]).filter(pl.col("currency") == c) for c in ("A", "B"))
    assert a["tick_distance"].to_list() == [0.0] * 5 + [0.5, 0.5]
    assert a["tick_size"][0] == pytest.approx(math.log(1 + 1 / 3))
    # compared days (yesterday known): 1 same, 2 moved, 3 same, 5 after a hole (not compared), 6 moved, 7 same
    assert a["unchanged_share_7d"].to_list() == pytest.approx([None, 1.0, 0.5, 2 / 3, 2 / 3, 0.5, 0.6])
    assert a["days_since_change"].to_list() == [0, 1, 0, 1, 3, 0, 1], "day 5: the last move was on day 2"
    assert a["both_sides"].to_list() == [1] * 7 and b["both_sides"].to_list() == [0] * 3
    assert b["unchanged_share_14d"].to_list()[1:] == [1.0, 1.0] and b["days_since_change"].to_list() == [
        0,
        1,
        2,
    ]
