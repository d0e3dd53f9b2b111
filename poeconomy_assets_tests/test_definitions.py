"""The code location loads, every asset is registered and described, every job resolves."""

import importlib
import os
import pkgutil

import dagster as dg
import pytest

from poeconomy_assets import defs as defs_package
from poeconomy_assets.definitions import defs

EXPECTED_PARTITIONS = {
    "poe_ninja_history": None,
    "poe_watch_snapshots": "league",
    "poe_watch_history": "league",
    "daily_prices": "league",
    "currency_features": "currency",
    "price_models": "currency|horizon",
    "price_forecasts": "currency|horizon",
    "investment_report": "league",
}


def _declared_asset_keys() -> set[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for info in pkgutil.iter_modules(defs_package.__path__):
        module = importlib.import_module(f"{defs_package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, dg.AssetsDefinition):
                keys |= set(value.keys)
    return keys


def test_every_declared_asset_is_registered() -> None:
    registered = set(defs.resolve_asset_graph().get_all_asset_keys())
    assert _declared_asset_keys() <= registered


@pytest.mark.parametrize("name, partitions", EXPECTED_PARTITIONS.items())
def test_asset_has_group_description_and_partitions(name: str, partitions: str | None) -> None:
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(name))
    assert spec.group_name and spec.group_name != "default"
    assert spec.description and len(spec.description) > 20
    pdef = spec.partitions_def
    if partitions is None:
        assert pdef is None
    elif "|" in partitions:
        assert isinstance(pdef, dg.MultiPartitionsDefinition)
        assert "|".join(sorted(d.name for d in pdef.partitions_defs)) == partitions
    else:
        assert isinstance(pdef, dg.DynamicPartitionsDefinition) and pdef.name == partitions


def test_every_job_resolves() -> None:
    for job in defs.jobs or []:
        assert defs.resolve_job_def(job.name).name == job.name


def test_every_table_has_a_blocking_schema_check() -> None:
    checks = {key.name: key.asset_key.path[-1] for key in defs.resolve_asset_graph().asset_check_keys}
    for table in ("poe_ninja_history", "daily_prices", "currency_features", "price_forecasts", "investment_report"):
        assert checks.get(f"{table}_schema") == table


def test_live_snapshots_must_be_fresh_within_15_minutes_and_share_one_api_pool() -> None:
    specs = {s.key.path[-1]: s for s in defs.resolve_all_asset_specs()}
    policy = specs["poe_watch_snapshots"].freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy) and policy.fail_window.to_timedelta().total_seconds() == 15 * 60
    for name in ("poe_watch_snapshots", "poe_watch_history"):
        assert defs.resolve_assets_def(name).node_def.pool == "poe_watch_api"


def test_live_sensors_are_registered_and_stopped_without_an_explicit_url() -> None:
    sensors = {s.name: s for s in defs.sensors or []}
    assert set(sensors) >= {"ingestion_sensor", "new_league_sensor"}
    assert sensors["ingestion_sensor"].minimum_interval_seconds == 150  # two ticks per 5-minute slot
    assert sensors["ingestion_sensor"].job_name == "ingestion_job"
    if not os.environ.get("POECONOMY_POE_WATCH_URL"):  # a fresh `dagster dev` must not call the internet
        assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in sensors.values())
