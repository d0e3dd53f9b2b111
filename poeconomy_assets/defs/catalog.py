"""Catalog facts of every asset: who owns it (by group) and its code version.

A code version names what an asset computes: bump it when the asset would write something else from the same
inputs, and Dagster marks it (and what is downstream) stale. ``currency_features`` and ``price_models`` take the
versions their core code declares, so the catalog, the feature code and the model manifests agree.
"""

from collections.abc import Iterable

import dagster as dg

from poeconomy_assets.core.features import FEATURES_VERSION
from poeconomy_assets.core.models import CODE_VERSION as MODELS_VERSION

OWNERS = {
    "ingestion": ["team:data-platform"],
    "prices": ["team:data-platform"],
    "features": ["team:forecasting"],
    "models": ["team:forecasting"],
    "forecasts": ["team:forecasting"],
    "scorecards": ["team:forecasting"],
    "reports": ["team:trading"],
}
CODE_VERSIONS = {
    "poe_ninja_history": "1",
    "poe_watch_snapshots": "1",
    "poe_watch_history": "1",
    "daily_prices": "1",
    "currency_features": FEATURES_VERSION,
    "pooled_models": MODELS_VERSION,
    "price_models": MODELS_VERSION,
    "interval_calibration": "1",
    "price_forecasts": "2",  # reads its horizon's interval_calibration instead of every residual set
    "investment_report": "1",
    "forecast_scorecard": "1",
    "backtest_scorecard": MODELS_VERSION,  # it trains the same models
}


def with_catalog_facts(assets: Iterable) -> list:
    """The assets with their owners and code version; an asset or group missing above is an error."""

    def annotate(spec: dg.AssetSpec) -> dg.AssetSpec:
        name = spec.key.to_user_string()
        if name not in CODE_VERSIONS or spec.group_name not in OWNERS:
            raise KeyError(
                f"asset {name!r} (group {spec.group_name!r}) needs a code version and owners in defs/catalog.py"
            )
        return spec.replace_attributes(owners=OWNERS[spec.group_name], code_version=CODE_VERSIONS[name])

    return list(dg.map_asset_specs(annotate, assets))
