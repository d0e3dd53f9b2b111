import argparse
import json
from pathlib import Path

import polars as pl
import pytest

from poeconomy_assets.commands import backtest as command
from poeconomy_assets.core.evaluation.backtest import (
    average_scorecards,
    rolling_backtest,
    train_leagues_for,
)
from poeconomy_assets.core.evaluation.replay import return_from_trades

LEAGUES = ["Delirium", "Harvest", "Heist", "Ritual"]  # 3 training leagues are the minimum for one fold
CURRENCIES = "Exalted Orb,Chromatic Orb"


@pytest.fixture(scope="module")
def dumps(real_dumps_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few real leagues, linked (not copied) into a temporary folder."""
    folder = tmp_path_factory.mktemp("dumps")
    for league in LEAGUES:
        (folder / f"{league}.currency.csv").symlink_to(real_dumps_dir / f"{league}.currency.csv")
    return folder


def _args(dumps: Path, out: Path, **extra) -> argparse.Namespace:
    defaults = {
        "dumps": dumps,
        "test_league": "Ritual",
        "profile": "test",
        "json": out,
        "rolling": 0,
        "seed": 0,
        "currencies": CURRENCIES,
        "horizons": "1d,7d",
        "quiet": True,
    }
    return argparse.Namespace(**{**defaults, **extra})


def test_backtest_json_has_the_documented_shape(dumps: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    assert command.run(_args(dumps, out)) == 0
    result = json.loads(out.read_text())
    assert result["test_league"] == "Ritual" and result["profile"] == "test"
    assert result["train_leagues"] == ["Delirium", "Harvest", "Heist"]
    assert set(result["horizons"]) == {"1d", "7d"}
    interval_keys = {
        "coverage_80",
        "coverage_95",
        "mean_relative_width",
        "persistence_coverage_80",
        "persistence_relative_width",
    }
    for card in result["horizons"].values():
        assert {"rel_mae", "mape", "mae", "direction_accuracy", "n", "per_currency"} | interval_keys <= set(
            card
        )
        assert set(card["per_currency"]) == set(CURRENCIES.split(","))
        for scores in card["per_currency"].values():
            assert (
                set(scores) == {"rel_mae", "mape", "direction_accuracy", "n"} | interval_keys
                and scores["n"] > 50
            )
            assert 0.0 <= scores["coverage_80"] <= scores["coverage_95"] <= 1.0
            assert scores["mean_relative_width"] > 0 and scores["persistence_relative_width"] > 0
        assert set(card["interval_methods"]) == set(CURRENCIES.split(","))
        assert 0.3 < card["rel_mae"] < 2.0 and card["n"] == sum(s["n"] for s in card["per_currency"].values())
    assert result["horizons"]["7d"]["n"] < result["horizons"]["1d"]["n"], (
        "no 7d point without a price 7 days on"
    )
    # Issue 12: the items left out with their reason, and the legacy / liquid subsets with the same fields.
    assert result["items_skipped"]["Divine Orb"] == "not in the explicit currency list"
    assert len(result["items_skipped"]) == 11 and set(result["subset_items"]["legacy"]) == set(
        CURRENCIES.split(",")
    )
    for card in result["horizons"].values():
        legacy = card["subsets"]["legacy"]
        assert {
            "rel_mae",
            "mape",
            "mae",
            "direction_accuracy",
            "n",
            "share_below_1",
            "worst_rel_mae",
        } | interval_keys <= set(legacy)
        assert legacy["n"] == card["n"], "both currencies asked for are legacy ones"
        assert legacy["rel_mae"] == pytest.approx(card["rel_mae"])

    strategy = result["strategy"]  # the track record of following the report on the held-out league
    assert {
        "return",
        "max_drawdown",
        "hit_rate",
        "trades",
        "hold_chaos_return",
        "hold_divine_return",
        "basket_return",
        "perfect_foresight_return",
        "curve",
        "execution",
    } <= set(strategy)
    assert strategy["hold_chaos_return"] == 0.0 and strategy["horizon"] == "7d" and strategy["periods"] >= 10
    assert 0.0 <= strategy["max_drawdown"] < 1.0 and strategy["return"] > -1.0
    assert isinstance(strategy["trades"], list)
    assert strategy["return"] == pytest.approx(
        return_from_trades(strategy["trades"], strategy["budget_chaos"])
    )
    days = [c["date"] for c in strategy["curve"]]
    assert days == sorted(days) and len(days) >= 7 * (strategy["periods"] - 1), (
        "a daily curve, not weekly points"
    )
    assert (strategy["hit_rate"] is None) == (len(strategy["trades"]) == 0)
    assert (
        strategy["hold_divine_return"] > -1.0
    )  # Ritual has Divine Orb prices: the divine holder is compared


def test_rolling_ends_at_the_test_league_and_averages_subsets() -> None:
    """--rolling 2 --test-league B: leagues A and B, not the newest two (C is later than the test league)."""
    prices = pl.DataFrame(
        {
            "league": ["A", "B", "C"],
            "date": pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 1, 3), eager=True),
        }
    )
    card = {
        "rel_mae": 0.8,
        "mape": 0.1,
        "mae": 1.0,
        "direction_accuracy": 0.6,
        "n": 10,
        "per_currency": {},
        "subsets": {"legacy": {"rel_mae": 0.9, "n": 4, "worst_rel_mae": 1.0}},
    }
    done = {league: {"test_league": league, "horizons": {"1d": card}} for league in "ABC"}
    result = rolling_backtest(prices, 2, done=done, last_league="B")
    assert result["leagues"] == ["A", "B"]
    legacy = result["horizons"]["1d"]["subsets"]["legacy"]
    assert (
        legacy["rel_mae"] == pytest.approx(0.9)
        and legacy["n"] == 8
        and legacy["per_league_rel_mae"] == {"A": 0.9, "B": 0.9}
    )


def test_unknown_league_is_a_clean_error(dumps: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert command.run(_args(dumps, tmp_path / "x.json", test_league="Atlantis")) == 2
    assert "Atlantis" in capsys.readouterr().err


def test_only_earlier_leagues_train() -> None:
    prices = pl.DataFrame(
        {
            "league": ["A", "A", "B", "B", "C"],
            "date": pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 1, 5), eager=True),
        }
    )
    assert train_leagues_for(prices, "B") == ["A"]
    assert train_leagues_for(prices, "C") == ["A", "B"]
    with pytest.raises(ValueError, match="not in the data"):
        train_leagues_for(prices, "Z")


def test_rolling_average_is_the_mean_over_leagues() -> None:
    card = {"rel_mae": 0.8, "mape": 0.1, "mae": 1.0, "direction_accuracy": 0.6, "n": 10, "per_currency": {}}
    results = [
        {"test_league": "A", "horizons": {"1d": card}},
        {"test_league": "B", "horizons": {"1d": {**card, "rel_mae": 1.0, "n": 30}}},
    ]
    averaged = average_scorecards(results)["1d"]
    assert averaged["rel_mae"] == pytest.approx(0.9) and averaged["n"] == 40
    assert averaged["per_league_rel_mae"] == {"A": 0.8, "B": 1.0}
