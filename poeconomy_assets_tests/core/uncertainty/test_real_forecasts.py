"""Every forecast built on real poe.ninja leagues is one consistent distribution (skips without the data)."""

import dataclasses
from pathlib import Path

import polars as pl
import pytest

from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.ensemble import PROFILES, train_currency_model, train_pooled_model
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.schemas import HORIZON_DAYS, HORIZONS
from poeconomy_assets.core.uncertainty.calibration import model_calibration
from poeconomy_assets.core.uncertainty.distribution import (
    check_consistency,
    consistency_problems,
    harmonize_horizons,
)
from poeconomy_assets.core.uncertainty.forecast_table import build_forecasts, stored_calibration

pytestmark = pytest.mark.real_data

LEAGUES = ["Delirium", "Harvest", "Heist", "Ritual"]
CURRENCIES = ["Exalted Orb", "Vaal Orb"]


def test_real_forecasts_never_contradict_themselves(real_dumps_dir: Path, tmp_path: Path) -> None:
    """Test-profile models of two real currencies at every horizon, their whole forecast tables (every day of
    Ritual, the last day of each earlier league): quantiles, median, P(up) and horizons all agree."""
    for league in LEAGUES:
        (tmp_path / f"{league}.currency.csv").symlink_to(real_dumps_dir / f"{league}.currency.csv")
    features = build_features(read_dump_dir(tmp_path).prices)
    tables = []
    for horizon in HORIZONS:
        models = [train_currency_model(features, c, horizon, profile="test", seed=0) for c in CURRENCIES]
        pooled = pl.concat([model_calibration(features, m) for m in models])
        tables += [build_forecasts(features, m, pooled) for m in models]
    forecasts = pl.concat(tables, how="diagonal_relaxed")
    assert forecasts.height > 500
    # P(up) is known wherever residuals calibrate the band (Ritual's walk-forward rows are calibrated without
    # Ritual's own residuals, the only validation league here: conservative, null with a reason)
    calibrated = forecasts.filter(pl.col("interval_method") != "conservative")
    assert calibrated.height >= 30 and calibrated["prob_up"].is_not_null().all()
    assert consistency_problems(forecasts) == []
    assert consistency_problems(harmonize_horizons(forecasts, HORIZON_DAYS), HORIZON_DAYS) == []
    # the point forecast is the median: as many outcomes above it as below, roughly, where outcomes are known
    known = forecasts.filter(
        pl.col("actual_chaos").is_not_null() & (pl.col("forecast_source") == "walk_forward")
    )
    above = (known["actual_chaos"] > known["forecast_chaos"]).mean()
    assert 0.3 < above < 0.7, above


NEWEST_FULL_LEAGUES = ["Crucible", "Ancestor", "Affliction", "Phrecia"]  # full dumps (~190 items each)
TOP_ITEMS = 10


@pytest.fixture(scope="module")
def newest_market(
    real_dumps_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pl.DataFrame, list[str]]:
    """Features of the four newest full leagues (market-wide features from every item, as currency_features
    computes them) and the newest league's ten items with the most priced days over the four (ties by name)."""
    folder = tmp_path_factory.mktemp("newest")
    for league in NEWEST_FULL_LEAGUES:
        (folder / f"{league}.currency.csv").symlink_to(real_dumps_dir / f"{league}.currency.csv")
    prices = read_dump_dir(folder).prices
    newest = league_order(prices)[-1]
    assert newest == NEWEST_FULL_LEAGUES[-1]
    in_newest = prices.filter(pl.col("league") == newest)["currency"].unique().implode()
    top = (
        prices.filter(pl.col("currency").is_in(in_newest))
        .group_by("currency")
        .len()
        .sort(["len", "currency"], descending=[True, False])
        .head(TOP_ITEMS)["currency"]
        .to_list()
    )
    return build_features(prices).filter(pl.col("currency").is_in(top)), top


@pytest.mark.parametrize("folds", [1, 2], ids=["test-profile", "test-profile-2-validation-leagues"])
def test_every_forecast_of_the_newest_full_league_is_consistent(
    newest_market: tuple[pl.DataFrame, list[str]], folds: int
) -> None:
    """The forecast path of ``price_forecasts`` on real data: per horizon the pooled model, every item's model
    on it, calibration pooled from every model's stored residuals (``stored_calibration``), the forecast table
    (the last day of each earlier league, every day of the newest). With the test profile (one validation
    league, what ``make demo-real`` trains) most of the newest league's bands are conservative; with two,
    every band is calibrated and P(up) known. Every forecast is one consistent distribution, as stored and as
    the report harmonizes the horizons."""
    features, top = newest_market
    profile = dataclasses.replace(PROFILES["test"], n_folds=folds)
    tables = []
    for horizon in HORIZONS:
        pooled = train_pooled_model(features, horizon, profile=profile, seed=0)
        models = [train_currency_model(features, c, horizon, pooled=pooled) for c in top]
        stored = [
            ({"currency": m.currency, "info": m.info}, m.residuals) for m in models
        ]  # (manifest, residuals)
        calibration = stored_calibration(features, stored, horizon)
        tables += [build_forecasts(features, m, calibration) for m in models]
    forecasts = pl.concat(tables, how="diagonal_relaxed")
    assert forecasts.select("currency", "horizon").unique().height == len(top) * len(HORIZONS)
    assert forecasts.filter(pl.col("league") == NEWEST_FULL_LEAGUES[-1]).height > 1_500
    calibrated = forecasts.filter(pl.col("interval_method") != "conservative")
    assert calibrated["prob_up"].is_not_null().all()
    if folds > 1:
        assert calibrated.height == forecasts.height
    assert check_consistency(forecasts).checked == forecasts.height
    assert consistency_problems(forecasts) == []
    assert consistency_problems(harmonize_horizons(forecasts, HORIZON_DAYS), HORIZON_DAYS) == []
