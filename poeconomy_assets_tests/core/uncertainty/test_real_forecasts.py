"""Every forecast built on real poe.ninja leagues is one consistent distribution (skips without the data)."""

from pathlib import Path

import polars as pl

from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.ensemble import train_currency_model
from poeconomy_assets.core.schemas import HORIZON_DAYS, HORIZONS
from poeconomy_assets.core.uncertainty.calibration import model_calibration
from poeconomy_assets.core.uncertainty.distribution import consistency_problems, harmonize_horizons
from poeconomy_assets.core.uncertainty.forecast_table import build_forecasts

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
    known = forecasts.filter(pl.col("actual_chaos").is_not_null() & (pl.col("forecast_source") == "walk_forward"))
    above = (known["actual_chaos"] > known["forecast_chaos"]).mean()
    assert 0.3 < above < 0.7, above
