"""One forecast distribution per row: its quantiles, median and P(up) never contradict each other."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.schemas import HORIZON_DAYS
from poeconomy_assets.core.uncertainty.calibration import price_bands
from poeconomy_assets.core.uncertainty.distribution import (
    KNOTS,
    cdf_at,
    consistency_problems,
    harmonize_horizons,
    knots_from_halfwidths,
    prob_above,
)
from poeconomy_assets.core.uncertainty.intervals import PhaseCalibrator


def _calibration(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Walk-forward residuals of every awkward kind: skewed, heavy-tailed, biased, many exact zeros."""
    kind = rng.integers(0, 4)
    if kind == 0:
        residual = rng.standard_t(2, n) * 0.05
    elif kind == 1:
        residual = rng.lognormal(-3, 1, n) - 0.04  # skewed, biased
    elif kind == 2:
        residual = np.where(rng.random(n) < 0.6, 0.0, rng.normal(0.02, 0.1, n))  # stale prices
    else:
        residual = rng.normal(rng.normal(0, 0.02), 0.03, n)
    return pl.DataFrame(
        {
            "league_day": rng.integers(0, 90, n),
            "scale": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0.005, 0.3, n)),
            "residual": residual,
        }
    ).with_columns(pl.col("scale").fill_nan(None))


def _random_forecasts(seed: int, rows: int = 40) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    horizon = ("1d", "3d", "7d")[seed % 3]
    own = _calibration(rng, int(rng.integers(0, 120)))
    pooled = pl.concat([own, _calibration(rng, int(rng.integers(0, 300)))])
    calibrator = PhaseCalibrator(own, pooled, HORIZON_DAYS[horizon], seed=seed)
    features = pl.DataFrame(
        {
            "league_day": rng.integers(0, 90, rows),
            "price_chaos": np.exp(rng.uniform(np.log(1e-4), np.log(1e5), rows)),  # 0.0001 c … a Mirror
            "vol_14d": np.where(rng.random(rows) < 0.2, np.nan, rng.uniform(0.0, 0.4, rows)),
            "vol_7d": rng.uniform(0.0, 0.4, rows),
            "momentum_vol_3d": rng.uniform(0.0, 0.4, rows),
        }
    ).with_columns(pl.col("vol_14d").fill_nan(None))
    points = rng.normal(0, 0.1, rows)
    bands = price_bands(features, points, calibrator, horizon)
    price = features["price_chaos"].to_numpy()
    return bands.rename({"median_chaos": "forecast_chaos"}).with_columns(
        price_chaos=price,
        expected_return=bands["median_chaos"].to_numpy() / price - 1,
        currency=pl.lit(f"C{seed}"),
        horizon=pl.lit(horizon),
        as_of=pl.lit(date(2024, 1, 1)),
    )


def test_many_random_forecasts_never_contradict_themselves() -> None:
    """4,000 forecasts over 100 random calibrations (every rung of the ladder, heavy tails, stale prices,
    prices from 0.0001 c to a Mirror): quantiles in order, median = point, P(up) on the side of the bands
    where the price sits."""
    frames = [_random_forecasts(seed) for seed in range(100)]
    forecasts = pl.concat(frames, how="diagonal_relaxed")
    assert set(forecasts["interval_method"]) >= {
        "conformal-own",
        "conformal-pooled",
        "bootstrap",
        "conservative",
    }
    assert consistency_problems(forecasts) == []
    known = forecasts.filter(pl.col("prob_up").is_not_null())
    # P(up) > 50% exactly when the median is above the price
    assert ((known["prob_up"] > 0.5) == (known["forecast_chaos"] > known["price_chaos"])).all()


@pytest.mark.parametrize(
    "broken, message",
    [
        ({"lower_80": 0.5}, "80% band wider than the 95% band"),  # 80% lower bound below the 95% one
        ({"prob_up": 0.2}, "median above the price but P(up) < 50%"),
        ({"price_chaos": 0.5, "prob_up": 0.6}, "below the 95% band but P(up) < 97.5%"),
        ({"price_chaos": 2.0, "prob_up": 0.3}, "above the 95% band but P(up) > 2.5%"),
    ],
)
def test_the_checker_catches_each_contradiction(broken: dict, message: str) -> None:
    row = {
        "currency": "X",
        "horizon": "7d",
        "as_of": date(2024, 1, 1),
        "price_chaos": 1.0,
        "lower_95": 0.8,
        "lower_80": 0.9,
        "lower_50": 0.95,
        "forecast_chaos": 1.05,
        "upper_50": 1.1,
        "upper_80": 1.2,
        "upper_95": 1.3,
        "prob_up": 0.7,
        "expected_return": 0.05,
    }
    assert consistency_problems(pl.DataFrame([row])) == []
    bad = {**row, **broken}
    if "price_chaos" in broken:
        bad["expected_return"] = bad["forecast_chaos"] / bad["price_chaos"] - 1
    problems = consistency_problems(pl.DataFrame([bad]))
    assert any(message in p for p in problems), problems


def test_cdf_is_monotone_and_meets_the_levels_at_the_knots() -> None:
    knots = knots_from_halfwidths(np.array([0.01]), [0.02], [0.05], [0.12])
    x = np.linspace(-0.5, 0.5, 2001)
    cdf = cdf_at(np.repeat(knots, x.size, axis=0), x)
    assert (np.diff(cdf) >= 0).all() and cdf[0] == pytest.approx(0.005) and cdf[-1] == pytest.approx(0.995)
    assert cdf_at(knots, knots[0, 1])[0] == pytest.approx(0.10)
    assert prob_above(knots, knots[0, 3])[0] == pytest.approx(0.5)


def test_longer_horizons_never_get_narrower_bands() -> None:
    """A 7d band calibrated narrower than the 1d band of the same day is widened to it; P(up) re-read."""
    day = date(2024, 1, 1)
    rows = []
    for horizon, half in (("1d", 0.10), ("3d", 0.05), ("7d", 0.20)):
        knots = knots_from_halfwidths(np.array([0.02]), [half / 2], [half], [half * 2])[0]
        rows.append(
            {
                "currency": "X",
                "horizon": horizon,
                "as_of": day,
                "price_chaos": 10.0,
                **{c: 10.0 * np.exp(k) for c, k in zip(KNOTS, knots)},
                "expected_return": np.expm1(knots[3]),
                "prob_up": float(prob_above(knots[None, :], 0.0)[0]),
            }
        )
    frame = pl.DataFrame(rows)
    assert any("narrower than a shorter horizon" in p for p in consistency_problems(frame, HORIZON_DAYS))
    fixed = harmonize_horizons(frame, HORIZON_DAYS)
    assert consistency_problems(fixed, HORIZON_DAYS) == []
    widths = (fixed["upper_80"] / fixed["lower_80"]).to_list()
    assert widths[1] == pytest.approx(widths[0]) and widths[2] > widths[0]
    assert fixed["prob_up"][1] < frame["prob_up"][1], "a wider band around the same median is less sure"
    assert fixed["forecast_chaos"].to_list() == pytest.approx(frame["forecast_chaos"].to_list())


def test_harmonize_keeps_row_order_and_days_apart() -> None:
    day = date(2024, 1, 1)
    base = {
        "currency": "X",
        "price_chaos": 1.0,
        "lower_95": 0.8,
        "lower_80": 0.9,
        "lower_50": 0.95,
        "forecast_chaos": 1.0,
        "upper_50": 1.05,
        "upper_80": 1.1,
        "upper_95": 1.2,
        "expected_return": 0.0,
        "prob_up": 0.5,
    }
    frame = pl.DataFrame(
        [
            {**base, "horizon": "7d", "as_of": day},
            {**base, "horizon": "1d", "as_of": day + timedelta(days=1), "upper_95": 3.0},
        ]
    )
    out = harmonize_horizons(frame, HORIZON_DAYS)
    assert out["horizon"].to_list() == ["7d", "1d"] and out["upper_95"].to_list() == pytest.approx([1.2, 3.0])
