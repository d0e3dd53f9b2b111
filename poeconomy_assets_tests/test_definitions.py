"""The code location loads, every asset is registered and described, every job resolves."""

import importlib
import pkgutil

import dagster as dg
import pytest

from poeconomy_assets import defs as defs_package
from poeconomy_assets.definitions import defs

EXPECTED_PARTITIONS = {
    "poe_ninja_history": None,
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
    for table in ("daily_prices", "currency_features", "price_forecasts"):
        assert checks.get(f"{table}_schema") == table
