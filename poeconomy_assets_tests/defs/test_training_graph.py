"""The training graph as Dagster runs it: one pooled search per horizon, forecasts independent of the order
models finish in, and a real daemon's backfill giving the same models and forecasts as the in-process path.

One small simulated market's features are built once (in process); each path then trains from a copy: batched
(every key of an asset in one run), one partition per run in a shuffled order, and a daemon backfill.
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

from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.batching import RANGE_END, RANGE_START
from poeconomy_assets.defs.partitions import register_partitions, split_currency_horizon
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.selection import PAST_LEAGUES
from poeconomy_assets.demo.dagster_dev import DagsterDev, write_instance_yaml
from poeconomy_assets.demo.in_process import materialize_in_process
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

# The smallest market the whole graph trains on: 3 leagues (2 to train, 1 to validate) × 3 currencies.
TINY_MARKET = SimulationConfig(n_leagues=3, n_currencies=3, seed=23, min_days=32, max_days=36)


def _instance(directory: Path) -> dg.DagsterInstance:
    """A persistent instance in ``directory`` (its dagster.yaml, when there is one)."""
    directory.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.local_temp(tempdir=str(directory))


TRAINING = dg.AssetSelection.assets(
    "pooled_models", "price_models", "interval_calibration", "price_forecasts"
)


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
    inputs = PAST_LEAGUES | dg.AssetSelection.assets("daily_prices", "currency_features")
    materialize_in_process(build_defs(build_resources(home, dumps)), instance, inputs, log=lambda _: None)
    return Prepared(
        root,
        dumps,
        home,
        instance.get_dynamic_partitions("league"),
        sorted(instance.get_dynamic_partitions("currency")),
    )


def _copy_home(prepared: Prepared, name: str) -> tuple[Path, dg.DagsterInstance, dg.Definitions]:
    home = prepared.root / name
    shutil.copytree(prepared.features_home, home)
    instance = _instance(prepared.root / f"{name}_dagster")
    register_partitions(
        instance,
        [name_from_key(k) for k in prepared.leagues],
        [name_from_key(k) for k in prepared.currencies],
    )
    return home, instance, build_defs(build_resources(home, prepared.dumps))


def _keys(prepared: Prepared) -> list[str]:
    return [
        str(dg.MultiPartitionKey({"currency": c, "horizon": h}))
        for c in prepared.currencies
        for h in HORIZONS
    ]


def _one_partition_runs(prepared: Prepared, name: str, order: list[str]) -> Path:
    """Every model, then every forecast, one partition per run, in the order given (as a backfill whose runs
    finish in that order would leave them)."""
    home, instance, defs = _copy_home(prepared, name)
    job = defs.resolve_implicit_global_asset_job_def()

    def run(asset: str, key: str) -> None:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(asset)],
            tags={"dagster/partition": key},
            raise_on_error=False,
        )
        assert result.success, (asset, key)

    for horizon in reversed(HORIZONS):
        run("pooled_models", horizon)
    for key in order:
        run("price_models", key)
    for horizon in HORIZONS:
        run("interval_calibration", horizon)
    for key in reversed(order):
        run("price_forecasts", key)
    return home


def _forecasts(home: Path) -> dict[str, pl.DataFrame]:
    return {
        str(p.relative_to(home)): pl.read_parquet(p)
        for p in sorted((home / "data" / "price_forecasts").rglob("*.parquet"))
    }


def _models(home: Path) -> dict[str, dict]:
    """Per currency × horizon: what the stored model decided (scope, weights, return scale, metrics, residuals)."""
    models = {}
    for manifest_path in sorted((home / "models").glob("*/*/manifest.json")):
        if manifest_path.parts[-3] == "__pooled__":
            continue
        manifest = json.loads(manifest_path.read_text())
        models[f"{manifest['currency']}|{manifest['horizon']}"] = {
            "scope": manifest["info"]["scope"],
            "weights": manifest["weights"],
            "return_scale": manifest["return_scale"],
            "rel_mae": manifest["metrics"]["rel_mae"],
            "params": manifest["params"],
            "residuals": np.load(manifest_path.parent / "residuals.npy").tolist(),
        }
    return models


@pytest.fixture(scope="module")
def in_process(prepared: Prepared) -> Path:
    """The batched path: each asset's partitions in one run (what `poeconomy demo --in-process` runs)."""
    home, instance, defs = _copy_home(prepared, "in_process")
    outcome = materialize_in_process(defs, instance, TRAINING, log=lambda _: None)
    assert outcome.runs == 4  # one run per asset: every key of the asset in it
    return home


def test_batched_and_one_partition_runs_in_any_order_give_identical_models_and_forecasts(
    prepared: Prepared, in_process: Path
) -> None:
    keys = _keys(prepared)
    shuffled = list(reversed(keys))
    random.Random(5).shuffle(shuffled)
    assert shuffled != keys
    other = _one_partition_runs(prepared, "shuffled", shuffled)
    assert _models(other) == _models(in_process)
    mine, theirs = _forecasts(in_process), _forecasts(other)
    assert sorted(mine) == sorted(theirs) and len(mine) == len(keys)
    for path, frame in mine.items():
        assert frame.equals(theirs[path]), (path, _differences(frame, theirs[path]))


def test_a_batched_run_materializes_exactly_its_keys_each_with_its_own_metadata(prepared: Prepared) -> None:
    home, instance, defs = _copy_home(prepared, "exact")
    job = defs.resolve_implicit_global_asset_job_def()
    materialize_in_process(defs, instance, dg.AssetSelection.assets("pooled_models"), log=lambda _: None)
    keys = [k for k in _keys(prepared) if k.endswith("|3d")][:2]  # two currencies, one horizon: a key range
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("price_models")],
        tags={RANGE_START: keys[0], RANGE_END: keys[-1]},
    )
    assert result.success
    events = result.get_asset_materialization_events()
    assert sorted(str(e.partition) for e in events) == sorted(keys)
    for event in events:  # each partition's own numbers, not the run's
        metadata = event.materialization.metadata
        assert metadata["currency"].value == split_currency_horizon(event.partition)[0]
        assert metadata["models_in_run"].value == 2 and "rel_mae" in metadata
    stored = sorted(
        str(p.relative_to(home / "data" / "price_models"))
        for p in (home / "data" / "price_models").rglob("*.json")
    )
    assert stored == sorted(k.replace("|", "/") + ".json" for k in keys)


def test_a_run_whose_keys_do_not_match_its_range_tags_fails() -> None:
    """dagster-io/dagster#28861: a job backfill of a multi-partitioned job gives a run range tags but one (wrong)
    partition to materialize. Dagster refuses to build that shape in process, so the run's view is given as
    Dagster hands it to the asset: its tags and the keys it was asked for."""
    from types import SimpleNamespace

    from poeconomy_assets.defs.batching import PartitionKeysMismatch, run_partition_keys

    partitions = dg.StaticPartitionsDefinition(["a", "b", "c"])

    def context(keys: list[str], tags: dict[str, str]) -> SimpleNamespace:
        return SimpleNamespace(
            partition_keys=keys,
            run=SimpleNamespace(tags=tags),
            instance=dg.DagsterInstance.ephemeral(),
            assets_def=SimpleNamespace(partitions_def=partitions, key=dg.AssetKey("price_models")),
        )

    assert run_partition_keys(context(["a", "b", "c"], {RANGE_START: "a", RANGE_END: "c"})) == ["a", "b", "c"]
    assert run_partition_keys(context(["b"], {"dagster/partition": "b"})) == ["b"]
    with pytest.raises(PartitionKeysMismatch, match="28861"):
        run_partition_keys(context(["b"], {RANGE_START: "a", RANGE_END: "c"}))
    with pytest.raises(PartitionKeysMismatch, match="partition a"):
        run_partition_keys(context(["b"], {"dagster/partition": "a"}))


def test_forecasts_wait_for_every_model_of_their_horizon_through_its_calibration() -> None:
    """Dagster plans a horizon's calibration only after all its models, and forecasts after the calibration:
    the residual pool is a declared dependency."""
    defs = build_defs(build_resources(Path("/nonexistent"), Path("/nonexistent")))
    graph = defs.resolve_asset_graph()
    calibration = graph.get(dg.AssetKey("interval_calibration"))
    models = graph.get(dg.AssetKey("price_models"))
    mapping = calibration.partition_mappings[dg.AssetKey("price_models")]
    instance = dg.DagsterInstance.ephemeral()
    currencies = ["Divine Orb", "Exalted Orb", "Chaos Orb"]
    instance.add_dynamic_partitions("currency", currencies)
    downstream = calibration.partitions_def.subset_with_partition_keys(["3d"])
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        downstream, calibration.partitions_def, models.partitions_def, dynamic_partitions_store=instance
    )
    assert sorted(upstream.partitions_subset.get_partition_keys()) == sorted(f"{c}|3d" for c in currencies)
    forecasts = graph.get(dg.AssetKey("price_forecasts"))
    assert dg.AssetKey("interval_calibration") in forecasts.parent_keys
    assert isinstance(
        forecasts.partition_mappings[dg.AssetKey("interval_calibration")],
        dg.MultiToSingleDimensionPartitionMapping,
    )
    pooled_mapping = models.partition_mappings[dg.AssetKey("pooled_models")]
    assert isinstance(pooled_mapping, dg.MultiToSingleDimensionPartitionMapping)


@pytest.mark.daemon
def test_daemon_backfill_searches_once_per_horizon_and_matches_the_in_process_path(
    prepared: Prepared, in_process: Path
) -> None:
    """A real `dagster dev` (webserver + daemon) on a temp instance; the UI's "materialize all partitions" of the
    training selection, launched over GraphQL as one asset backfill; then its models and forecasts against the
    batched in-process ones, and each partition's own metadata."""
    dagster_home = prepared.root / "daemon_dagster"
    write_instance_yaml(dagster_home)  # two runs at once, two training slots (before the instance opens it)
    home, instance, _ = _copy_home(prepared, "daemon")
    env = {"POECONOMY_HOME": str(home), "POECONOMY_DUMPS_DIR": str(prepared.dumps)}
    assets = [
        k.to_user_string()
        for k in TRAINING.resolve(build_defs(build_resources(home, prepared.dumps)).resolve_asset_graph())
    ]
    with DagsterDev(dagster_home, env) as server:
        backfill = server.launch_backfill(assets, title="test")
        status = server.wait_backfill(backfill, timeout=600)
        runs = server.backfill_runs(backfill)
    assert status == "COMPLETED_SUCCESS", (
        status,
        runs,
        (dagster_home / "dagster_dev.log").read_text()[-3000:],
    )
    assert {r["status"] for r in runs} == {"SUCCESS"}
    # batched: far fewer runs than partitions (pooled: one per horizon; the rest in ranges)
    assert len(runs) < len(_keys(prepared)) + len(HORIZONS)

    # exactly one pooled search per horizon, and every model of a horizon built from that one
    pooled = instance.fetch_materializations(dg.AssetKey("pooled_models"), limit=100).records
    assert sorted(r.partition_key for r in pooled) == sorted(HORIZONS)
    searched = {r.partition_key: r.asset_materialization.metadata for r in pooled}
    assert all(m["searches"].value == 1 and m["search_trials"].value >= 1 for m in searched.values())
    models = instance.fetch_materializations(dg.AssetKey("price_models"), limit=1000).records
    assert len(models) == len(prepared.currencies) * len(HORIZONS)
    for record in models:
        metadata = record.asset_materialization.metadata
        currency, horizon = split_currency_horizon(record.partition_key)
        assert metadata["currency"].value == currency and metadata["horizon"].value == horizon
        assert metadata["searches"].value == 0 and "model_vs_persistence" in metadata
        assert metadata["pooled_data_version"].value == searched[horizon]["data_version"].value

    # the same models and forecasts as the in-process path
    assert _models(home) == _models(in_process)
    mine, theirs = _forecasts(in_process), _forecasts(home)
    assert sorted(mine) == sorted(theirs)
    for path, frame in mine.items():
        assert frame.equals(theirs[path]), (path, _differences(frame, theirs[path]))


def _differences(mine: pl.DataFrame, theirs: pl.DataFrame) -> dict:
    """The columns where two tables of the same shape differ, with their first differing values."""
    if mine.columns != theirs.columns or mine.height != theirs.height:
        return {"columns": (mine.columns, theirs.columns), "rows": (mine.height, theirs.height)}
    return {
        c: (
            mine[c].filter(~mine[c].eq_missing(theirs[c])).head(3).to_list(),
            theirs[c].filter(~mine[c].eq_missing(theirs[c])).head(3).to_list(),
        )
        for c in mine.columns
        if not mine[c].equals(theirs[c])
    }
