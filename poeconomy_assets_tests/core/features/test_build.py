import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from poeconomy_assets.core.features.build import build_features, feature_columns, target_column
from poeconomy_assets.core.features.market_signal import SIGNAL_FAMILIES, market_signal, signal_columns
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.schemas import Features
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    directory = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=6, seed=5, min_days=30, max_days=40), directory)
    return read_dump_dir(directory).prices


def test_one_valid_row_per_price(prices: pl.DataFrame) -> None:
    features = build_features(prices)
    assert features.height == prices.height
    Features.validate(features, lazy=True)
    assert len(feature_columns(features)) >= 20


def test_targets_are_future_log_returns_within_the_league(prices: pl.DataFrame) -> None:
    features = build_features(prices).sort("league", "currency", "date")
    row = features.filter(pl.col(target_column("3d")).is_not_null()).row(10, named=True)
    later = prices.filter(
        (pl.col("league") == row["league"])
        & (pl.col("currency") == row["currency"])
        & (pl.col("date") == row["date"] + dt.timedelta(days=3))
    )
    assert row[target_column("3d")] == pytest.approx(math.log(later["price_chaos"][0] / row["price_chaos"]))
    last_days = features.group_by("league", "currency").agg(pl.col(target_column("1d")).last())
    assert last_days[target_column("1d")].null_count() == last_days.height, "no target crosses a league's end"


@pytest.mark.parametrize("cut_day", [5, 12, 25])
def test_no_look_ahead(prices: pl.DataFrame, cut_day: int) -> None:
    """Changing every price after day t (in this and later leagues) leaves every feature at day t unchanged."""
    league = sorted(prices["league"].unique().to_list())[1]
    cut = prices.filter(pl.col("league") == league)["date"].min() + dt.timedelta(days=cut_day)
    shocked = prices.with_columns(
        pl.when(pl.col("date") > cut)
        .then(pl.col("price_chaos") * 3.7)
        .otherwise(pl.col("price_chaos"))
        .alias("price_chaos")
    )
    columns = feature_columns(build_features(prices))
    before = (
        build_features(prices).filter(pl.col("date") <= cut).select("league", "currency", "date", *columns)
    )
    after = (
        build_features(shocked).filter(pl.col("date") <= cut).select("league", "currency", "date", *columns)
    )
    assert before.height > 0
    # Equal up to float rounding: windows run as running sums over one long column, so the last bits
    # of a value can depend on the order of additions, never on what comes later in time.
    assert_frame_equal(
        before.sort("league", "currency", "date"),
        after.sort("league", "currency", "date"),
        check_exact=False,
        rel_tol=1e-9,
        abs_tol=1e-12,
    )


def test_the_order_of_the_input_rows_changes_no_bit(prices: pl.DataFrame) -> None:
    """Windows run as running sums over one long column: its group order must come from the names, not from
    the order the rows arrive in (the asset concatenates league partitions in whatever order it gets them)."""
    expected = build_features(prices).sort("league", "currency", "date")
    shuffled = build_features(prices.sample(fraction=1.0, shuffle=True, seed=3)).sort(
        "league", "currency", "date"
    )
    assert_frame_equal(shuffled, expected, check_exact=True)
    _assert_same_bits(shuffled, expected, feature_columns(expected))


def _assert_same_bits(actual: pl.DataFrame, expected: pl.DataFrame, columns: list[str]) -> None:
    """To the last bit: assert_frame_equal takes -0.0 for 0.0."""
    for column in columns:
        if expected[column].dtype == pl.Float64:
            assert (
                actual[column].to_numpy().view("int64") == expected[column].to_numpy().view("int64")
            ).all(), column


@pytest.mark.parametrize("bad_price", [0.0, -1.0, math.inf])
def test_rejects_prices_without_a_finite_log(bad_price: float) -> None:
    """The numpy windows read a NaN log price as a missing day: a price with no finite log is an error."""
    dates = [dt.date(2020, 1, 1), dt.date(2020, 1, 2)]
    rows = pl.DataFrame(
        {
            "league": ["A", "A"],
            "currency": ["x", "x"],
            "date": dates,
            "league_day": [0, 1],
            "price_chaos": [1.0, bad_price],
        }
    )
    with pytest.raises(ValueError, match="positive prices"):
        build_features(rows)


def test_market_signal_columns_are_those_of_each_row(prices: pl.DataFrame) -> None:
    """build_features lines the signal up with its rows by position (no join on the names): every row gets the
    signal market_signal computes for its (league, currency, date), to the last bit, whatever the input order."""
    rng = np.random.default_rng(2)
    n = prices.height  # the simulator has no buy side: one, missing on a fifth of the days
    buy = (
        pl.when(pl.Series(rng.random(n) < 0.2))
        .then(None)
        .otherwise(pl.col("price_chaos") * rng.uniform(0.8, 0.99, n))
    )
    prices = prices.with_columns(
        buy.alias("buy_price_chaos"), pl.Series("confidence", rng.choice(["High", "Low"], n))
    )
    prices = prices.with_columns(
        (pl.col("price_chaos") / pl.col("buy_price_chaos")).log().alias("log_spread")
    )
    keys = ["league", "currency", "date"]
    families = tuple(SIGNAL_FAMILIES)
    built = build_features(prices.sample(fraction=1.0, shuffle=True, seed=7), signal=families)
    expected = built.select(keys).join(
        market_signal(prices, families), on=keys, how="left", maintain_order="left"
    )
    assert_frame_equal(built.select(*keys, *signal_columns(families)), expected, check_exact=True)
    _assert_same_bits(built, expected, signal_columns(families))


def test_rejects_a_league_day_that_does_not_follow_the_date(prices: pl.DataFrame) -> None:
    """Every date is rebuilt from the league's launch and league_day: one currency counting from another day
    would get wrong dates (and another day's signal)."""
    league, currency = prices.select(pl.col("league").min(), pl.col("currency").min()).row(0)
    shifted = prices.with_columns(
        pl.when((pl.col("league") == league) & (pl.col("currency") == currency))
        .then(pl.col("league_day") + 1)
        .otherwise(pl.col("league_day"))
        .alias("league_day")
    )
    with pytest.raises(ValueError, match="league_day must count the days since the league's launch"):
        build_features(shifted)
