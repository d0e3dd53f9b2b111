import datetime as dt

import polars as pl
import pytest

from poeconomy_assets.core.models.selection import SelectionConfig, select_currencies


def _prices(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    """(league, currency, n_days, price) -> one row per day; league B starts after league A."""
    starts = {"A": dt.date(2020, 1, 1), "B": dt.date(2020, 6, 1)}
    out = []
    for league, currency, days, price in rows:
        out += [
            {
                "league": league,
                "currency": currency,
                "date": starts[league] + dt.timedelta(days=d),
                "league_day": d,
                "price_chaos": price,
            }
            for d in range(days)
        ]
    return pl.DataFrame(out)


@pytest.fixture
def prices() -> pl.DataFrame:
    return _prices(
        [
            ("A", "Exalted Orb", 80, 150.0),
            ("B", "Exalted Orb", 20, 160.0),
            ("A", "Chromatic Orb", 80, 0.1),
            ("B", "Chromatic Orb", 20, 0.1),
            ("A", "Old Orb", 80, 5.0),  # gone from the live league
            ("B", "New Orb", 10, 3.0),  # too little history
            ("A", "Regal Orb", 80, 1.0),
            ("B", "Regal Orb", 20, 1.0),
        ]
    )


def test_every_currency_is_selected_or_has_a_reason(prices: pl.DataFrame) -> None:
    s = select_currencies(prices, SelectionConfig(min_avg_price=0.25))
    assert s.live_league == "B"
    assert s.selected == ["Exalted Orb", "Regal Orb"]
    assert set(s.selected) | set(s.excluded) == set(prices["currency"].unique())
    assert "live league" in s.excluded["Old Orb"]
    assert "10 priced days" in s.excluded["New Orb"]
    assert "below 0.25c" in s.excluded["Chromatic Orb"]


def test_high_value_profile_and_explicit_list(prices: pl.DataFrame) -> None:
    high = select_currencies(prices, SelectionConfig(profile="high_value"))
    assert high.selected == ["Exalted Orb"] and "high-value" in high.excluded["Regal Orb"]
    explicit = select_currencies(prices, SelectionConfig(currencies=("Regal Orb", "Mirror of Kalandra")))
    assert explicit.selected == ["Regal Orb"]
    assert explicit.excluded["Exalted Orb"] == "not in the explicit currency list"
    assert "no price history" in explicit.excluded["Mirror of Kalandra"]


def test_real_data_selection(real_dumps_dir) -> None:
    from poeconomy_assets.core.ingest.dumps import read_dump_dir

    s = select_currencies(read_dump_dir(real_dumps_dir).prices)
    assert s.live_league == "Phrecia"  # the newest of the 28 leagues
    assert len(s.selected) >= 10 and all(reason for reason in s.excluded.values())


def test_low_confidence_days_do_not_count_as_history(prices: pl.DataFrame) -> None:
    """Regal Orb has 100 priced days, but only 15 not marked Low: too few reliable ones for a model."""
    marked = prices.with_columns(
        pl.when(
            (pl.col("currency") == "Regal Orb") & ((pl.col("league") == "B") | (pl.col("league_day") >= 15))
        )
        .then(pl.lit("Low"))
        .otherwise(pl.lit("High"))
        .alias("confidence")
    )
    s = select_currencies(marked)
    assert "Regal Orb" not in s.selected and "15 priced days not marked Low" in s.excluded["Regal Orb"]
    assert "Chromatic Orb" in s.selected, "no price floor by default: relative error is scale-free"
    assert "Regal Orb" in select_currencies(marked, SelectionConfig(min_reliable_rows=10)).selected


def test_history_and_live_items_given_apart(prices: pl.DataFrame) -> None:
    """A backtest: the history is the training leagues, the live league's items are given."""
    history = prices.filter(pl.col("league") == "A")
    s = select_currencies(
        history, SelectionConfig(live_league="B"), live_items={"Exalted Orb", "Brand New Orb"}
    )
    assert s.selected == ["Exalted Orb"]
    assert s.excluded["Brand New Orb"] == "no price history before the live league"
    assert "live league 'B'" in s.excluded["Regal Orb"]
