"""The training graph as Dagster runs it: one pooled search per horizon, forecasts independent of the order
models finish in, and a real daemon's backfill giving the same models and forecasts as the in-process path.

One small simulated market's features are built once (in process); each path then trains from a copy.
"""

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.partitions import register_partitions, split_currency_horizon
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.demo.dagster_dev import DagsterDev, write_instance_yaml
from poeconomy_assets.demo.graph_runner import GraphRunner
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

# The smallest market the whole graph trains on: 3 leagues (2 to train, 1 to validate) × 3 currencies.
TINY_MARKET = SimulationConfig(n_leagues=3, n_currencies=3, seed=23, min_days=32, max_days=36)
def _instance(directory: Path) -> dg.DagsterInstance:
    """A persistent instance in ``directory`` (its dagster.yaml, when there is one)."""
    directory.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.local_temp(tempdir=str(directory))


@dataclass
class Prepared:
    root: Path
    dumps: Path
    features_home: Path  # data/ holds daily prices and features, nothing trained yet
    leagues: list[str]
    currencies: list[str]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    root = tmp_path_factory.mktemp("training_graph")
    dumps, home = root / "dumps", root / "features_home"
    write_dumps(TINY_MARKET, dumps)
    instance = _instance(root / "features_dagster")
    runner = GraphRunner(build_defs(build_resources(home, dumps)), instance, log=lambda _: None)
    runner.inputs()
    return Prepared(root, dumps, home, runner.outcome.leagues, runner.outcome.currencies)


def _copy_home(prepared: Prepared, name: str) -> Path:
    home = prepared.root / name
    shutil.copytree(prepared.features_home, home)
    return home


def _train_in_process(prepared: Prepared, name: str, order: list[str]) -> Path:
    home = _copy_home(prepared, name)
    instance = _instance(prepared.root / f"{name}_dagster")
    register_partitions(instance, prepared.leagues, prepared.currencies)
    runner = GraphRunner(build_defs(build_resources(home, prepared.dumps)), instance, log=lambda _: None)
    runner.outcome.currencies = prepared.currencies
    runner.training(order)
    return home


def _forecasts(home: Path) -> dict[str, pl.DataFrame]:
    return {str(p.relative_to(home)): pl.read_parquet(p) for p in sorted((home / "data" / "price_forecasts").rglob("*.parquet"))}


def _models(home: Path) -> dict[str, dict]:
    """Per currency × horizon: what the stored model decided (scope, weights, return scale, metrics, residuals)."""
    models = {}
    for manifest_path in sorted((home / "models").glob("*/*/manifest.json")):
        if manifest_path.parts[-3] == "__pooled__":
            continue
        manifest = json.loads(manifest_path.read_text())
        models[f"{manifest['currency']}|{manifest['horizon']}"] = {
            "scope": manifest["info"]["scope"], "weights": manifest["weights"], "return_scale": manifest["return_scale"],
            "mase": manifest["metrics"]["mase"], "params": manifest["params"],
            "residuals": np.load(manifest_path.parent / "residuals.npy").tolist(),
        }
    return models


@pytest.fixture(scope="module")
def in_process(prepared: Prepared) -> Path:
    """The in-process path (what `poeconomy demo` runs): models in partition order."""
    keys = [str(dg.MultiPartitionKey({"currency": c, "horizon": h})) for c in prepared.currencies for h in HORIZONS]
    return _train_in_process(prepared, "in_process", keys)


def test_forecasts_do_not_depend_on_the_order_models_finish_in(prepared: Prepared, in_process: Path) -> None:
    keys = [str(dg.MultiPartitionKey({"currency": c, "horizon": h})) for c in prepared.currencies for h in HORIZONS]
    shuffled = list(reversed(keys))
    random.Random(5).shuffle(shuffled)
    assert shuffled != keys
    other = _train_in_process(prepared, "shuffled", shuffled)
    assert _models(other) == _models(in_process)
    mine, theirs = _forecasts(in_process), _forecasts(other)
    assert sorted(mine) == sorted(theirs) and len(mine) == len(keys)
    for path, frame in mine.items():
        assert frame.equals(theirs[path]), path


def test_a_forecast_waits_for_every_model_of_its_horizon() -> None:
    """Dagster plans a forecast only after all models of its horizon: the residual pool is a declared dependency."""
    defs = build_defs(build_resources(Path("/nonexistent"), Path("/nonexistent")))
    graph = defs.resolve_asset_graph()
    forecasts = graph.get(dg.AssetKey("price_forecasts"))
    models = graph.get(dg.AssetKey("price_models"))
    mapping = forecasts.partition_mappings[dg.AssetKey("price_models")]
    instance = dg.DagsterInstance.ephemeral()
    currencies = ["Divine Orb", "Exalted Orb", "Chaos Orb"]
    instance.add_dynamic_partitions("currency", currencies)
    downstream = forecasts.partitions_def.subset_with_partition_keys(["Exalted Orb|3d"])
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        downstream, forecasts.partitions_def, models.partitions_def, dynamic_partitions_store=instance)
    assert sorted(upstream.partitions_subset.get_partition_keys()) == sorted(f"{c}|3d" for c in currencies)
    pooled_mapping = models.partition_mappings[dg.AssetKey("pooled_models")]
    assert isinstance(pooled_mapping, dg.MultiToSingleDimensionPartitionMapping)


@pytest.mark.daemon
def test_daemon_backfill_searches_once_per_horizon_and_matches_the_in_process_path(
    prepared: Prepared, in_process: Path
) -> None:
    """A real `dagster dev` (webserver + daemon) on a temp instance; the UI's "materialize all partitions" of the
    training and forecast assets, launched over GraphQL; then its models and forecasts against the in-process ones."""
    home = _copy_home(prepared, "daemon")
    dagster_home = prepared.root / "daemon_dagster"
    write_instance_yaml(dagster_home)  # two runs at once, two training slots
    instance = _instance(dagster_home)
    register_partitions(instance, prepared.leagues, prepared.currencies)
    env = {"POECONOMY_HOME": str(home), "POECONOMY_DUMPS_DIR": str(prepared.dumps)}
    with DagsterDev(dagster_home, env) as server:
        backfill = server.launch_backfill(["pooled_models", "price_models", "price_forecasts"], title="test")
        status = server.wait_backfill(backfill, timeout=600)
        runs = server.backfill_runs(backfill)
    assert status == "COMPLETED_SUCCESS", (status, runs, (dagster_home / "dagster_dev.log").read_text()[-3000:])
    assert {r["status"] for r in runs} == {"SUCCESS"}

    # exactly one pooled search per horizon, and every model of a horizon built from that one
    pooled = instance.fetch_materializations(dg.AssetKey("pooled_models"), limit=100).records
    assert sorted(r.partition_key for r in pooled) == sorted(HORIZONS)
    searched = {r.partition_key: r.asset_materialization.metadata for r in pooled}
    assert all(m["searches"].value == 1 and m["search_trials"].value >= 1 for m in searched.values())
    models = instance.fetch_materializations(dg.AssetKey("price_models"), limit=1000).records
    assert len(models) == len(prepared.currencies) * len(HORIZONS)
    for record in models:
        metadata = record.asset_materialization.metadata
        _, horizon = split_currency_horizon(record.partition_key)
        assert metadata["searches"].value == 0
        assert metadata["pooled_data_version"].value == searched[horizon]["data_version"].value

    # the same models and forecasts as the in-process path
    assert _models(home) == _models(in_process)
    mine, theirs = _forecasts(in_process), _forecasts(home)
    assert sorted(mine) == sorted(theirs)
    for path, frame in mine.items():
        assert frame.equals(theirs[path]), path
