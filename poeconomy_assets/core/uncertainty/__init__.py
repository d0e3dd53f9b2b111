"""How sure a forecast is: prediction intervals calibrated on walk-forward residuals, the residuals put back beside
their rows, and the forecast table (one row per as-of date with its bands and P(up))."""

from poeconomy_assets.core.uncertainty.calibration import model_calibration, price_bands
from poeconomy_assets.core.uncertainty.distribution import (
    check_consistency,
    consistency_problems,
    harmonize_horizons,
    log_knots,
    prob_above,
    sigma_from_band,
)
from poeconomy_assets.core.uncertainty.forecast_table import (
    add_divine_columns,
    build_forecasts,
    stored_calibration,
)
from poeconomy_assets.core.uncertainty.intervals import PhaseCalibrator

__all__ = [
    "PhaseCalibrator",
    "add_divine_columns",
    "build_forecasts",
    "check_consistency",
    "consistency_problems",
    "harmonize_horizons",
    "log_knots",
    "model_calibration",
    "price_bands",
    "prob_above",
    "sigma_from_band",
    "stored_calibration",
]
