"""The realized scorecard on a simulated league, with forecasts whose quality is known by construction."""

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.evaluation.scorecard import (
    DriftRules,
    horizon_summary,
    realized_points,
    score_realized,
)
from poeconomy_assets.core.schemas import HORIZON_DAYS
from poeconomy_assets.sim.simulator import SimulationConfig, simulate_prices

LEAGUE_CONFIG = SimulationConfig(
    n_leagues=1, n_currencies=30, seed=3, min_days=60, max_days=60, missing_rate=0.0
)


@pytest.fixture(scope="module")
def prices() -> pl.DataFrame:
    raw = simulate_prices(LEAGUE_CONFIG)
    return raw.select(
        pl.col("League").alias("league"),
        pl.col("Get").alias("currency"),
        pl.col("Date").alias("date"),
        pl.col("Value").alias("price_chaos"),
    )


def _forecasts(
    prices: pl.DataFrame,
    horizon: str,
    noise: float,
    bias: float = 0.0,
    seed: int = 0,
    source: str = "model",
    band: float | None = None,
) -> pl.DataFrame:
    """Forecasts = the true future price × exp(bias + N(0, noise)), with the exact 80%/95% intervals of that
    noise (or of N(0, ``band``)): their coverage is known (80% / 95% when unbiased and band = noise)."""
    days = HORIZON_DAYS[horizon]
    future = prices.select(
        "currency",
        (pl.col("date") - pl.duration(days=days)).alias("date"),
        pl.col("price_chaos").alias("future"),
    )
    rows = prices.join(future, on=["currency", "date"], how="inner")
    rng = np.random.default_rng(seed)
    log_forecast = np.log(rows["future"].to_numpy()) + bias + rng.normal(0, noise, rows.height)
    z80, z95 = 1.2816 * (band if band is not None else noise), 1.96 * (band if band is not None else noise)
    return rows.select("league", "currency", pl.col("date").alias("as_of"), "price_chaos").with_columns(
        horizon=pl.lit(horizon),
        forecast_source=pl.lit(source),
        forecast_chaos=np.exp(log_forecast),
        lower_80=np.exp(log_forecast - z80),
        upper_80=np.exp(log_forecast + z80),
        lower_95=np.exp(log_forecast - z95),
        upper_95=np.exp(log_forecast + z95),
    )


def test_perfect_forecasts_score_zero_and_cover_everything(prices: pl.DataFrame) -> None:
    points = realized_points(
        _forecasts(prices, "3d", noise=0.0, band=0.01), prices, "Sim01 Abyssal", window_days=14
    )
    card = score_realized(points)
    assert card["rel_mae"].max() < 1e-6
    assert (card["coverage_80"] == 1.0).all()
    assert (card["n"] == 14).all(), "the last 14 as-of dates with an outcome, per currency"
    # a band that never misses is too wide: the scorecard says so both ways, not only when bands are too narrow
    assert (card["bands"] == "too wide").all() and card["drift"].all()
    assert (
        card["drift_reason"].str.contains("too wide").all()
        and not card["drift_reason"].str.contains("relative MAE").any()
    )


def test_calibrated_bands_do_not_drift(prices: pl.DataFrame) -> None:
    forecasts = pl.concat([_forecasts(prices, h, noise=0.05, seed=i) for i, h in enumerate(HORIZON_DAYS)])
    card = score_realized(realized_points(forecasts, prices, "Sim01 Abyssal", 28), DriftRules(min_points=20))
    assert (card["bands"] == "ok").mean() > 0.8
    assert not card.filter(pl.col("bands") == "ok")["drift_reason"].fill_null("").str.contains("bands").any()


def test_persistence_scores_one(prices: pl.DataFrame) -> None:
    forecasts = _forecasts(prices, "1d", noise=0.01).with_columns(forecast_chaos=pl.col("price_chaos"))
    card = score_realized(realized_points(forecasts, prices, "Sim01 Abyssal", 14))
    assert card["rel_mae"].to_numpy() == pytest.approx(1.0)


def test_coverage_matches_the_known_noise(prices: pl.DataFrame) -> None:
    forecasts = pl.concat([_forecasts(prices, h, noise=0.05, seed=i) for i, h in enumerate(HORIZON_DAYS)])
    summary = horizon_summary(score_realized(realized_points(forecasts, prices, "Sim01 Abyssal", 14)))
    assert summary["n"].to_list() == [prices["currency"].n_unique() * 14] * 3
    assert summary["coverage_80"].to_numpy() == pytest.approx(0.80, abs=0.06)
    assert summary["coverage_95"].to_numpy() == pytest.approx(0.95, abs=0.04)


def test_drift_flags_the_biased_currency_and_horizon(prices: pl.DataFrame) -> None:
    good = _forecasts(prices, "7d", noise=0.0, band=0.01).with_columns(  # coverage 80%: 1 day in 5 misses
        pl.when(pl.col("as_of").dt.day() % 5 == 0).then(pl.col(c) * 1.05).otherwise(pl.col(c)).alias(c)
        for c in ("forecast_chaos", "lower_80", "upper_80", "lower_95", "upper_95")
    )
    bad = _forecasts(prices, "7d", noise=0.01, bias=0.4, seed=1).filter(pl.col("currency") == "Exalted Orb")
    forecasts = pl.concat([good.filter(pl.col("currency") != "Exalted Orb"), bad])
    card = score_realized(realized_points(forecasts, prices, "Sim01 Abyssal", 14), DriftRules())
    drifting = card.filter(pl.col("drift"))
    assert drifting["currency"].to_list() == ["Exalted Orb"]
    assert "relative MAE" in drifting["drift_reason"][0] and "coverage" in drifting["drift_reason"][0]


def test_in_sample_forecasts_and_old_days_are_not_scored(prices: pl.DataFrame) -> None:
    honest = _forecasts(prices, "1d", noise=0.01)
    in_sample = _forecasts(prices, "1d", noise=0.01, source="in_sample").with_columns(
        pl.col("as_of") + pl.duration(days=0)
    )
    points = realized_points(pl.concat([honest, in_sample]), prices, "Sim01 Abyssal", window_days=14)
    assert set(points["forecast_source"].unique()) == {"model"}
    assert (prices["date"].max() - points["as_of"].max()).days == 1, "the last day has no outcome yet"
    assert (points["as_of"].max() - points["as_of"].min()).days == 13
