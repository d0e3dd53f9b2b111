import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.uncertainty.intervals import PhaseCalibrator


def _residuals(n: int, league_day: int, scale: float = 0.05, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "league_day": np.full(n, league_day),
            "scale": np.full(n, scale),
            "residual": rng.normal(0, scale, n),
        }
    )


@pytest.mark.parametrize(
    ("own_n", "pooled_n", "method"),
    [
        (90, 0, "conformal-own"),  # 3-day outcomes overlap: 30 independent ones take 90 residuals
        (89, 200, "conformal-pooled"),
        (10, 4, "bootstrap"),  # the pool (own + others) holds 14: one short of conformal
        (5, 0, "bootstrap"),
        (4, 0, "conservative"),
        (0, 0, "conservative"),
    ],
)
def test_phase_ladder(own_n: int, pooled_n: int, method: str) -> None:
    """``pooled_n``: other currencies' residuals in the same phase (the pool also holds the own ones)."""
    own = _residuals(own_n, league_day=40)
    pooled = pl.concat([own, _residuals(pooled_n, league_day=40, seed=1)])
    band = PhaseCalibrator(own, pooled, horizon_days=3).intervals(
        np.array([0.02]), np.array([45]), np.array([0.05])
    )
    row = band.row(0, named=True)
    assert row["interval_method"] == method
    assert row["lower_95"] < row["lower_80"] < 0 < row["upper_80"] < row["upper_95"]
    if method == "conservative":
        assert row["prob_up"] is None and "residuals" in row["prob_up_reason"]
    else:
        assert 0.0 < row["prob_up"] < 1.0 and row["prob_up_reason"] is None


def test_each_phase_uses_its_own_residuals() -> None:
    """Launch-week residuals four times as large give a launch-week band about four times as wide."""
    calm, launch = (
        _residuals(300, league_day=50, scale=0.02),
        _residuals(300, league_day=2, scale=0.08, seed=3),
    )
    # same scale column: the phase alone must tell the two apart
    frame = pl.concat([calm, launch]).with_columns(scale=pl.lit(0.02))
    band = PhaseCalibrator(frame, frame, horizon_days=1).intervals(
        np.zeros(2), np.array([50, 2]), np.full(2, 0.02)
    )
    width = (band["upper_80"] - band["lower_80"]).to_numpy()
    assert 3.0 < width[1] / width[0] < 5.0


def test_scaled_scores_cover_heteroscedastic_draws() -> None:
    """Residuals proportional to a known volatility: coverage holds for calm and for wild forecasts alike."""
    rng = np.random.default_rng(5)
    scale = rng.uniform(0.01, 0.2, 2000)
    calibration = pl.DataFrame(
        {"league_day": np.full(2000, 60), "scale": scale, "residual": rng.normal(0, scale)}
    )
    calibrator = PhaseCalibrator(calibration, calibration, horizon_days=1)
    for level in (0.01, 0.2):
        fresh = rng.normal(0, level, 4000)
        band = calibrator.intervals(np.zeros(1), np.array([60]), np.array([level])).row(0, named=True)
        assert 0.76 <= np.mean((fresh >= band["lower_80"]) & (fresh <= band["upper_80"])) <= 0.84
        assert 0.93 <= np.mean((fresh >= band["lower_95"]) & (fresh <= band["upper_95"])) <= 0.97


def test_unknown_scale_uses_the_phase_median() -> None:
    calibration = _residuals(100, league_day=60, scale=0.05)
    calibrator = PhaseCalibrator(calibration, calibration, horizon_days=1)
    band = calibrator.intervals(np.zeros(2), np.array([60, 60]), np.array([np.nan, 0.05]))
    assert band["upper_80"][0] == pytest.approx(band["upper_80"][1])


def test_many_forecasts_with_and_without_a_probability() -> None:
    """A batch mixing a calibrated phase and an empty one: P(up) where residuals exist, a reason where not."""
    calibration = _residuals(200, league_day=50)
    band = PhaseCalibrator(calibration, calibration, horizon_days=1).intervals(
        np.zeros(60), np.r_[np.full(30, 50), np.full(30, 2)], np.full(60, 0.05)
    )
    calm, launch = band[:30], band[30:]
    assert calm["prob_up"].is_not_null().all() and calm["prob_up_reason"].is_null().all()
    assert launch["prob_up"].is_null().all() and launch["prob_up_reason"].is_not_null().all()
    only_calm = PhaseCalibrator(calibration, calibration, horizon_days=1).intervals(
        np.zeros(60), np.full(60, 50), np.full(60, 0.05)
    )
    assert only_calm["prob_up_reason"].dtype == pl.Utf8 and only_calm["prob_up_reason"].is_null().all()


def test_every_forecast_calibrated_leaves_no_reason() -> None:
    """All P(up) known: the reason column is all null strings (it once failed to build as objects)."""
    calibration = _residuals(100, league_day=60)
    band = PhaseCalibrator(calibration, calibration, 1).intervals(
        np.zeros(3), np.full(3, 60), np.full(3, 0.05)
    )
    assert band["prob_up_reason"].dtype == pl.Utf8 and band["prob_up_reason"].null_count() == 3


def test_conservative_band_widens_with_horizon() -> None:
    empty = _residuals(0, league_day=60)
    short, long = (
        PhaseCalibrator(empty, empty, h).intervals(np.zeros(1), np.array([60]), np.array([0.05]))
        for h in (1, 7)
    )
    assert long["upper_95"][0] > short["upper_95"][0] > 0


def test_probability_of_rise_follows_the_point_forecast() -> None:
    calibrator = PhaseCalibrator(*[_residuals(200, league_day=60, scale=0.02)] * 2, horizon_days=1)
    band = calibrator.intervals(np.array([0.03, -0.03]), np.array([60, 60]), np.array([0.02, 0.02]))
    assert band["prob_up"][0] > 0.9 and band["prob_up"][1] < 0.1
