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


def test_every_job_runs_the_registered_assets_it_selects() -> None:
    """A selection naming a missing asset, or a job whose assets need different partitions, fails here."""
    graph = defs.resolve_asset_graph()
    registered = set(graph.get_all_asset_keys())
    for job in defs.jobs or []:
        selected = job.selection.resolve(graph)
        assert selected and selected <= registered, job.name
        resolved = defs.resolve_job_def(job.name)
        assert {node.name for node in resolved.graph.nodes} == {key.path[-1] for key in selected}, job.name
        partitions = {graph.get(key).partitions_def for key in selected}
        assert len(partitions) == 1, f"{job.name} mixes partitions definitions"


def test_every_table_has_a_blocking_schema_check() -> None:
    checks = {key.name: key.asset_key.path[-1] for key in defs.resolve_asset_graph().asset_check_keys}
    for table in (
        "poe_ninja_history",
        "daily_prices",
        "currency_features",
        "price_forecasts",
        "investment_report",
    ):
        assert checks.get(f"{table}_schema") == table


def test_live_snapshots_must_be_fresh_within_15_minutes_and_share_one_api_pool() -> None:
    specs = {s.key.path[-1]: s for s in defs.resolve_all_asset_specs()}
    policy = specs["poe_watch_snapshots"].freshness_policy
    assert (
        isinstance(policy, dg.FreshnessPolicy)
        and policy.fail_window.to_timedelta().total_seconds() == 15 * 60
    )
    for name in ("poe_watch_snapshots", "poe_watch_history"):
        assert defs.resolve_assets_def(name).node_def.pool == "poe_watch_api"


def test_live_sensors_are_registered_and_stopped_without_an_explicit_url() -> None:
    sensors = {s.name: s for s in defs.sensors or []}
    assert set(sensors) >= {"ingestion_sensor", "new_league_sensor"}
    assert sensors["ingestion_sensor"].minimum_interval_seconds == 150  # two ticks per 5-minute slot
    assert sensors["ingestion_sensor"].job_name == "ingestion_job"
    if not os.environ.get("POECONOMY_POE_WATCH_URL"):  # a fresh `dagster dev` must not call the internet
        assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in sensors.values())


def test_every_asset_has_owners_and_a_code_version() -> None:
    for spec in defs.resolve_all_asset_specs():
        assert spec.owners and all(o.startswith("team:") for o in spec.owners), spec.key
        assert spec.code_version, spec.key


def test_profile_choices_are_the_training_profiles() -> None:
    """A typo in the run config fails validation instead of reaching train_currency_model."""
    from typing import get_args

    from poeconomy_assets.core.models.ensemble import PROFILES
    from poeconomy_assets.defs.models import PooledTrainingConfig, ProfileName

    assert set(get_args(ProfileName)) == set(PROFILES)
    with pytest.raises(Exception, match="development"):  # the profile is chosen where the search runs
        PooledTrainingConfig(profile="prod")


def test_table_outputs_carry_row_count_and_column_schema(tmp_path) -> None:
    """Every frame the IO manager stores reports dagster/row_count and dagster/column_schema."""
    import polars as pl

    from poeconomy_assets.resources.parquet_io_manager import ParquetIOManager

    @dg.asset
    def table() -> pl.DataFrame:
        return pl.DataFrame({"currency": ["a", "b"], "price_chaos": [1.0, 2.0]})

    result = dg.materialize([table], resources={"io_manager": ParquetIOManager(base_dir=str(tmp_path))})
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["dagster/row_count"].value == 2
    columns = metadata["dagster/column_schema"].value.columns
    assert [(c.name, c.type) for c in columns] == [("currency", "String"), ("price_chaos", "Float64")]
