"""League-aware features and forecast targets built from daily prices (polars + numpy, no look-ahead): what each
feature means, and the numeric kernels that compute rolling statistics fast."""

from poeconomy_assets.core.features.build import (
    FEATURES_VERSION,
    MID_DAYS,
    build_features,
    feature_columns,
    league_phase,
    target_column,
)
from poeconomy_assets.core.features.market_signal import SIGNAL_FAMILIES, market_signal, signal_columns

__all__ = [
    "FEATURES_VERSION",
    "MID_DAYS",
    "SIGNAL_FAMILIES",
    "build_features",
    "feature_columns",
    "league_phase",
    "market_signal",
    "signal_columns",
    "target_column",
]
