import numpy as np
import pytest

from poeconomy_assets.core.intervals import calibrate


def test_conformal_interval_covers_about_nominal_share_of_new_draws() -> None:
    rng = np.random.default_rng(0)
    calibration, fresh = rng.normal(0, 0.05, 400), rng.normal(0, 0.05, 4000)
    band = calibrate(calibration, point=0.0, horizon_days=1)
    assert band.method == "conformal"
    inside80 = np.mean((fresh >= band.lower_80) & (fresh <= band.upper_80))
    inside95 = np.mean((fresh >= band.lower_95) & (fresh <= band.upper_95))
    assert 0.76 <= inside80 <= 0.84
    assert 0.93 <= inside95 <= 0.97
    assert band.lower_95 < band.lower_80 < 0 < band.upper_80 < band.upper_95


@pytest.mark.parametrize(("n", "method"), [(30, "conformal"), (15, "conformal"), (14, "bootstrap"), (5, "bootstrap"), (4, "conservative"), (0, "conservative")])
def test_fallback_ladder(n: int, method: str) -> None:
    band = calibrate(np.linspace(-0.1, 0.1, n), point=0.01, horizon_days=3)
    assert band.method == method
    assert band.n_residuals == n
    if method == "conservative":
        assert band.prob_up is None and "residuals" in (band.prob_up_reason or "")
    else:
        assert 0.0 <= (band.prob_up or 0.0) <= 1.0


def test_conservative_band_widens_with_horizon() -> None:
    short, long = calibrate(np.array([]), 0.0, 1), calibrate(np.array([]), 0.0, 7)
    assert long.upper_95 > short.upper_95 > 0


def test_probability_of_rise_follows_the_point_forecast() -> None:
    residuals = np.random.default_rng(1).normal(0, 0.02, 200)
    assert calibrate(residuals, 0.03, 1).prob_up > 0.9
    assert calibrate(residuals, -0.03, 1).prob_up < 0.1
