"""The skill gate (issue 22): a model keeps its move only where its validation days show skill beyond noise;
an item without that evidence is forecast as "no change", and the held-out league never enters the decision."""

import datetime as dt
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.evaluation.backtest import backtest_league
from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.ensemble import PROFILES, TrainedModel, train_currency_model
from poeconomy_assets.core.models.skill_gate import GATE_ALPHAS, SkillGate, choose_gate_alpha, skill_gate
from poeconomy_assets.core.uncertainty.forecast_table import build_forecasts
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

TEST_KEY = b"test-signing-key-0123456789abcdef"


def _validation_days(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    actual = price * np.exp(rng.normal(0, 0.03, n))
    leagues = np.repeat(["A", "B", "C"], n // 3)
    return price, actual, leagues


def test_a_forecast_that_knows_the_move_opens_the_gate() -> None:
    price, actual, leagues = _validation_days()
    forecast = price + 0.8 * (actual - price)  # most of the move, every day
    gate = skill_gate(price, actual, forecast, leagues, horizon_days=3)
    assert gate.use_model and gate.p_value < 0.01 and gate.rel_mae == pytest.approx(0.2)
    assert gate.label == "model" and "beat no change" in gate.reason


def test_noise_around_the_last_price_keeps_it_closed() -> None:
    price, actual, leagues = _validation_days()
    rng = np.random.default_rng(1)
    forecast = price * np.exp(rng.normal(0, 0.01, price.size))  # moves that know nothing
    gate = skill_gate(price, actual, forecast, leagues, horizon_days=3)
    assert not gate.use_model and gate.rel_mae > 1.0 and gate.p_value > 0.5
    assert gate.label == "no change" and "no proven skill" in gate.reason


def test_a_lucky_streak_on_few_days_is_not_evidence() -> None:
    price, actual, leagues = _validation_days(n=24)
    gate = skill_gate(price, actual, actual, leagues, horizon_days=1)  # perfect, but on 24 days
    assert not gate.use_model and gate.n == 24 and "only 24 validation days" in gate.reason


def test_each_league_counts_by_its_own_persistence_error() -> None:
    """A league where the item is 100x dearer does not outweigh the others: the model wins that league and loses
    the other two by more, so it has no skill (summed in chaos, the dear league would have opened the gate)."""
    price, actual, leagues = _validation_days(n=300, seed=3)
    price = np.where(leagues == "A", price * 100, price)
    actual = np.where(leagues == "A", actual * 100, actual)
    forecast = np.where(leagues == "A", price + 0.3 * (actual - price), price + 2.5 * (actual - price))
    gate = skill_gate(price, actual, forecast, leagues, horizon_days=1)
    assert not gate.use_model and gate.rel_mae == pytest.approx((0.7 + 1.5 + 1.5) / 3)


@pytest.fixture(scope="module")
def sticky_market(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Four simulated leagues, plus an item whose price sits on a whole chaos and moves by one tick on one day
    in ten: no model can call those ticks, so it has no skill to show."""
    directory = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=4, n_currencies=3, seed=5, min_days=50, max_days=55), directory)
    prices = read_dump_dir(directory).prices
    rng = np.random.default_rng(7)
    sticky = []
    for (league,), days in prices.filter(pl.col("currency") == "Divine Orb").group_by(
        "league", maintain_order=True
    ):
        level = np.maximum(2.0, 6 + np.cumsum(rng.choice([-1.0, 0.0, 1.0], days.height, p=[0.05, 0.9, 0.05])))
        sticky.append(days.with_columns(currency=pl.lit("Sticky Shard"), price_chaos=pl.Series(level)))
    return pl.concat([prices, *sticky], how="diagonal_relaxed")


def test_an_item_without_validation_skill_is_forecast_as_no_change(
    sticky_market: pl.DataFrame, tmp_path
) -> None:
    features = build_features(sticky_market)
    model = train_currency_model(features, "Sticky Shard", "1d", profile="test")
    assert not model.gate.use_model, model.gate
    assert model.metrics["gate_open"] == 0.0
    rows = features.filter(pl.col("currency") == "Sticky Shard").tail(20)
    assert (model.model_move(rows) != 0).any(), "the ensemble itself does move"
    np.testing.assert_array_equal(model.predict(rows), np.zeros(rows.height))  # the served forecast does not
    # ... and stays so through a save and a load, into the forecast table a report reads.
    model.save(tmp_path, key=TEST_KEY)
    again = TrainedModel.load(tmp_path, key=TEST_KEY)
    assert again.gate == model.gate
    table = build_forecasts(features, again)
    live = table.filter(pl.col("forecast_source") == "model")
    np.testing.assert_allclose(
        live["forecast_chaos"], live["price_chaos"], rtol=1e-6
    )  # the median of the band: no move
    assert set(table["skill_gate"]) == {"no change"} and "no proven skill" in table["skill_gate_reason"][0]


def test_the_gate_never_reads_the_held_out_league(sticky_market: pl.DataFrame) -> None:
    """The same backtest with the held-out league's prices scrambled: every gate decision and its evidence stay
    the same (they are made on earlier leagues' validation days), while the scores change."""
    held_out = sticky_market["league"].unique(maintain_order=True)[-1]
    rng = np.random.default_rng(11)
    scrambled = sticky_market.with_columns(
        pl.when(pl.col("league") == held_out)
        .then(pl.col("price_chaos") * pl.Series(np.exp(rng.normal(0, 0.2, sticky_market.height))))
        .otherwise(pl.col("price_chaos"))
        .alias("price_chaos")
    )
    profile = replace(PROFILES["test"], gate_min_days=10)  # short simulated leagues: let some gates open
    before, after = (
        backtest_league(prices, held_out, profile, horizons=["1d"])["horizons"]["1d"]
        for prices in (sticky_market, scrambled)
    )
    assert before["gates"] == after["gates"] and before["gated_items"] == after["gated_items"]
    assert {g["use_model"] for g in before["gates"].values()} == {True, False}, "both decisions are exercised"
    assert before["rel_mae"] != after["rel_mae"], "the held-out league did change"


def test_a_model_saved_before_the_gate_keeps_its_move() -> None:
    assert SkillGate.from_dict(None).use_model


def _oof(skill: float, noise: float, days: int, seed: int, last_skill: float | None = None) -> pl.DataFrame:
    """Out-of-fold rows of 20 items over three validation leagues: the model calls ``skill`` of each move (in the
    last league ``last_skill``, when given), plus noise of its own."""
    rng = np.random.default_rng(seed)
    frames = []
    for league_index, league in enumerate(("V1", "V2", "V3")):
        for item in range(20):
            move = rng.normal(0, 0.05, days)
            frames.append(
                pl.DataFrame(
                    {
                        "league": league,
                        "currency": f"item {item}",
                        "date": pl.date_range(
                            dt.date(2020 + league_index, 1, 1),
                            dt.date(2020 + league_index, 1, 1) + dt.timedelta(days=days - 1),
                            eager=True,
                        ),
                        "league_day": np.arange(days) + 40,  # late league: one return scale
                        "price_chaos": 10.0,
                        "target_logret_1d": move,
                        "pred_lightgbm": (skill if league != "V3" or last_skill is None else last_skill)
                        * move
                        + rng.normal(0, noise, days),
                    }
                )
            )
    return pl.concat(frames)


@pytest.mark.parametrize(
    ("skill", "last_skill", "chosen"),
    [
        # modest real skill on few days: a strict level would throw it away
        (0.1, None, {0.35, 0.5, 1.0}),
        # weak skill that turns against the model in the last league: the strictest levels keep it at no change
        (0.1, -0.3, {0.05, 0.1}),
    ],
)
def test_the_level_is_the_one_that_served_the_last_validation_league_best(
    skill: float, last_skill: float | None, chosen: set[float]
) -> None:
    from poeconomy_assets.core.models.ensemble import _apply_blend, _blend

    target = "target_logret_1d"
    choice = choose_gate_alpha(
        _oof(skill, 0.01, 15, seed=3, last_skill=last_skill),
        target,
        1,
        GATE_ALPHAS,
        30,
        lambda o: _blend(o, target),
        _apply_blend,
    )
    assert choice.alpha in chosen, choice
    assert "scored on V3" in choice.reason and set(choice.scores) == {str(a) for a in GATE_ALPHAS}
    assert choice.scores[str(choice.alpha)] == min(choice.scores.values())
