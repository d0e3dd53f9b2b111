from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.ensemble import PROFILES, TrainedModel, train_currency_model
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

TEST_KEY = b"test-signing-key-0123456789abcdef"


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    directory = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=4, seed=2, min_days=40, max_days=45), directory)
    return build_features(read_dump_dir(directory).prices)


def test_test_profile_trains_and_reports_persistence_comparison(features: pl.DataFrame) -> None:
    # The skill gate off, so the residuals are the model's own (a closed gate stores persistence's).
    ungated = replace(PROFILES["test"], gate_alphas=(1.0,), gate_min_days=0)
    model = train_currency_model(features, "Divine Orb", "3d", profile=ungated)
    assert model.gate.use_model
    m = model.metrics
    assert m["n_val"] > 10 and m["mae_persistence"] > 0
    # The test profile validates on one league, so the residuals are its validation days in date order:
    # the forecasts they imply, scored by hand against persistence, give the reported relative MAE.
    rows = features.filter(
        (pl.col("currency") == "Divine Orb")
        & (pl.col("league") == model.info["validation_league"])
        & pl.col("target_logret_3d").is_not_null()
    ).sort("date")
    assert model.residuals.size == rows.height == m["n_val"]
    price, logret = rows["price_chaos"].to_numpy(), rows["target_logret_3d"].to_numpy()
    actual, forecast = price * np.exp(logret), price * np.exp(logret - model.residuals)
    assert m["rel_mae"] == pytest.approx(
        np.abs(actual - forecast).sum() / np.abs(actual - price).sum(), rel=1e-9
    )
    assert model.predict(features.tail(5)).shape == (5,)


def test_saved_model_reloads_and_predicts_the_same(features: pl.DataFrame, tmp_path: Path) -> None:
    model = train_currency_model(features, "Exalted Orb", "1d")
    model.save(tmp_path, key=TEST_KEY)
    again = TrainedModel.load(tmp_path, key=TEST_KEY)
    rows = features.filter(pl.col("currency") == "Exalted Orb").tail(20)
    np.testing.assert_allclose(again.predict(rows), model.predict(rows))


def test_forest_is_a_lightgbm_random_forest_that_round_trips_through_text(
    features: pl.DataFrame, tmp_path
) -> None:
    import lightgbm as lgb

    from poeconomy_assets.core.models.families import RANDOM_FOREST

    model = train_currency_model(features, "Exalted Orb", "3d")
    forest = model.members["random_forest"]
    assert isinstance(forest, lgb.Booster) and forest.params["boosting"] == "rf"
    x = _with_code_matrix(model, features.tail(40))
    x[::7, 3] = np.nan  # missing values follow the learned direction
    RANDOM_FOREST.save(forest, tmp_path / RANDOM_FOREST.file_name)
    again = RANDOM_FOREST.load(tmp_path / RANDOM_FOREST.file_name)
    np.testing.assert_allclose(RANDOM_FOREST.predict(again, x), RANDOM_FOREST.predict(forest, x), rtol=1e-10)


def _with_code_matrix(model: TrainedModel, rows: pl.DataFrame) -> np.ndarray:
    codes = rows["currency"].replace_strict(model.currency_codes, default=-1, return_dtype=pl.Int64)
    return np.ascontiguousarray(
        rows.with_columns(codes.alias("currency_code")).select(model.feature_names).to_numpy(),
        dtype=np.float64,
    )


def test_small_and_large_batches_predict_the_same(features: pl.DataFrame) -> None:
    model = train_currency_model(features, "Divine Orb", "1d")
    rows = features.filter(pl.col("currency") == "Divine Orb").head(40)  # early days: many null features
    batch = model.predict(rows)
    one_by_one = np.concatenate([model.predict(rows.slice(i, 1)) for i in range(rows.height)])
    np.testing.assert_allclose(one_by_one, batch, rtol=1e-9, atol=1e-12)


def test_profiles_match_the_issue(features: pl.DataFrame) -> None:
    # No wall-clock assertion: the machine is shared, so speed is measured by benchmarks/bench_training.py.
    from poeconomy_assets.core.models.ensemble import PROFILES

    assert [(p.n_trials, p.n_folds) for p in PROFILES.values()] == [(3, 1), (50, 3), (200, 5)]
    model = train_currency_model(features, "Chromatic Orb", "7d", profile="test")
    assert 1 <= model.metrics["trials"] <= 3 + 1  # LightGBM 3, XGBoost 1
    assert model.info["profile"] == "test" and model.info["scope"] in ("pooled", "own")
    assert set(model.weights) == {"lightgbm", "xgboost", "random_forest"}
    assert abs(sum(model.weights.values()) - 1) < 1e-9
    assert set(model.return_scale) == {"early", "mid", "late"}


def test_short_history_gets_the_pooled_model_and_says_so(features: pl.DataFrame) -> None:
    latest = features["league"].unique().sort()[-1]
    # Keep only this currency's latest league: too short for its own model.
    thin = features.filter((pl.col("currency") != "Divine Orb") | (pl.col("league") == latest))
    model = train_currency_model(thin, "Divine Orb", "1d")
    assert model.info["scope"] == "pooled" and model.metrics["pooled_model"] == 1.0
    assert "pooled model" in model.info["scope_reason"]


def test_a_currency_new_in_the_latest_league_gets_the_pooled_model_and_says_so(
    features: pl.DataFrame,
) -> None:
    latest = features["league"].unique().sort()[-1]
    # "Brand New Orb" exists only in the latest league, as a currency first listed by a live league would
    renamed = features.with_columns(
        pl.when((pl.col("currency") == "Chromatic Orb") & (pl.col("league") == latest))
        .then(pl.lit("Brand New Orb"))
        .otherwise(pl.col("currency"))
        .alias("currency")
    )
    # ... and only its first day so far: no 1-day target known yet, so nothing of its own to validate on
    first_day = (pl.col("currency") == "Brand New Orb") & (
        pl.col("league_day") > pl.col("league_day").min().over("currency", "league")
    )
    with_new = renamed.filter((pl.col("currency") != "Chromatic Orb") & ~first_day).with_columns(
        pl.when(pl.col("currency") == "Brand New Orb").then(None).otherwise(pl.col("^target_.*$")).name.keep()
    )
    model = train_currency_model(with_new, "Brand New Orb", "1d")
    assert model.info["scope"] == "pooled" and "no validation days of its own" in model.info["scope_reason"]
    assert (
        model.residuals.size == 0
    )  # other currencies' residuals are not its own: intervals use the pooled ones
    rows = with_new.filter(pl.col("currency") == "Brand New Orb").tail(3)
    assert np.isfinite(model.predict(rows)).all()
    with pytest.raises(ValueError, match="no feature rows"):
        train_currency_model(with_new, "Never Seen Orb", "1d")


def test_one_pooled_model_serves_every_currency_and_round_trips(
    features: pl.DataFrame, tmp_path: Path
) -> None:
    from poeconomy_assets.core.models.ensemble import PooledModel, train_pooled_model

    pooled = train_pooled_model(features, "3d", profile="test", seed=0)
    pooled.save(tmp_path / "pooled", key=TEST_KEY)
    again = PooledModel.load(tmp_path / "pooled", key=TEST_KEY)
    assert again.trials == pooled.trials >= 1 and again.profile == pooled.profile
    # A currency model built on the reloaded pooled result is the one built on the original, and runs no search
    direct = train_currency_model(features, "Divine Orb", "3d", pooled=pooled)
    reloaded = train_currency_model(features, "Divine Orb", "3d", pooled=again)
    rows = features.filter(pl.col("currency") == "Divine Orb").tail(30)
    np.testing.assert_array_equal(direct.predict(rows), reloaded.predict(rows))
    np.testing.assert_array_equal(direct.residuals, reloaded.residuals)
    assert direct.info["pooled_data_version"] == pooled.data_version == direct.info["data_version"]
    with pytest.raises(ValueError, match="searched with 'test'"):
        train_currency_model(features, "Divine Orb", "3d", profile="development", pooled=pooled)
    with pytest.raises(ValueError, match="the 3d one, not 1d"):
        train_currency_model(features, "Divine Orb", "1d", pooled=pooled)
