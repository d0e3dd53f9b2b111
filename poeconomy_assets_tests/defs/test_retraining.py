"""weekly_retrain_sensor and drift_sensor, run: their ticks evaluated against a real temporary instance, then
every run they ask for executed (in process, as the run worker would), and the models they retrain checked."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.scorecards import DRIFT_CHECK_KEY
from poeconomy_assets.demo.in_process import materialize_subset, ops_config
from poeconomy_assets.sim.simulator import write_dumps

from .conftest import LIVE_PAST, TEST_PROFILE

MONDAY = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
MODELS = dg.AssetKey("price_models")


@dataclass
class Trained:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    home: Path

    def run(self, request: dg.RunRequest, job_name: str = "training_job") -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_job_def(request.job_name or job_name)
        return job.execute_in_process(
            instance=self.instance,
            partition_key=request.partition_key,
            run_config=ops_config(job, TEST_PROFILE),
            tags=request.tags,
        )

    def trainings(self, key: str, asset: dg.AssetKey = MODELS) -> int:
        return len(
            self.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=100
            ).records
        )


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """Past leagues imported and their features built: what training reads."""
    root = tmp_path_factory.mktemp("retrain")
    write_dumps(LIVE_PAST, root / "dumps")
    defs = build_defs(build_resources(root / "home", root / "dumps"))
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        assert defs.resolve_job_def("history_job").execute_in_process(instance=instance).success
        for league in instance.get_dynamic_partitions("league"):
            assert (
                defs.resolve_job_def("daily_prices_job")
                .execute_in_process(instance=instance, partition_key=league)
                .success
            )
        for currency in instance.get_dynamic_partitions("currency"):
            assert (
                defs.resolve_job_def("features_job")
                .execute_in_process(instance=instance, partition_key=currency)
                .success
            )
        pooled_job = defs.resolve_job_def("pooled_model_job")  # every model is built from its horizon's one
        for horizon in HORIZONS:
            assert pooled_job.execute_in_process(
                instance=instance, partition_key=horizon, run_config=ops_config(pooled_job, TEST_PROFILE)
            ).success
        yield Trained(defs, instance, root / "home")


def test_weekly_retrain_sensor_trains_every_model(graph: Trained) -> None:
    """One asset backfill (not a run per model): every model, then what is built from the models; run here as the
    backfill daemon would, in batched runs cut by each asset's backfill policy."""
    from poeconomy_assets.resources.live_clock import LiveClock

    context = dg.build_sensor_context(
        instance=graph.instance,
        repository_def=graph.defs.get_repository_def(),
        resources={"live_clock": LiveClock.frozen(MONDAY)},
    )
    tick = graph.defs.resolve_sensor_def("weekly_retrain_sensor")(context)
    currencies = graph.instance.get_dynamic_partitions("currency")
    expected = {f"{c}|{h}" for c in currencies for h in ("1d", "3d", "7d")}
    (request,) = tick.run_requests
    assert request.tags["poeconomy/lane"] == "batch"  # the batch lane
    subset = request.asset_graph_subset
    wanted = {(p.asset_key.path[-1], str(p.partition_key)) for p in subset.iterate_asset_partitions()}
    assert {k for a, k in wanted if a == "price_models"} == expected
    assert {k for a, k in wanted if a == "price_forecasts"} == expected
    assert {k for a, k in wanted if a == "interval_calibration"} == set(HORIZONS)
    assert "pooled_models" not in {a for a, _ in wanted}  # searched an hour before, by its own schedule
    outcome = materialize_subset(graph.defs, graph.instance, subset)
    assert outcome.failed_checks == []
    for key in expected:  # each model trained once, its artifacts stored
        assert graph.trainings(key) == 1, key
    stored = [p for p in (graph.home / "models").rglob("manifest.json") if p.parts[-3] != "__pooled__"]
    assert len(stored) == len(expected)  # (besides the three pooled models every model was built from)


def test_drift_sensor_runs_retrain_exactly_the_drifting_models(graph: Trained) -> None:
    currencies = graph.instance.get_dynamic_partitions("currency")
    if not graph.instance.get_materialized_partitions(MODELS):  # run alone: train once first
        for key in (f"{c}|{h}" for c in currencies for h in ("1d", "3d", "7d")):
            assert graph.run(dg.RunRequest(partition_key=key)).success
    before = {key: graph.trainings(key) for key in graph.instance.get_materialized_partitions(MODELS)}
    drifting = [f"{currencies[0]}|7d", f"{currencies[-1]}|1d"]
    # what forecast_scorecard's drift check records when it fails (test_drift.py checks that it does)
    graph.instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=DRIFT_CHECK_KEY.asset_key,
            check_name=DRIFT_CHECK_KEY.name,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"drifting_partitions": dg.MetadataValue.json(drifting)},
        )
    )
    sensor = graph.defs.resolve_sensor_def("drift_sensor")

    def tick_once(
        cursor: str | None = None,
    ):  # as the daemon does: partition keys checked against the instance
        context = dg.build_sensor_context(instance=graph.instance, definitions=graph.defs, cursor=cursor)
        with dg.partition_loading_context(dynamic_partitions_store=graph.instance):
            return sensor.evaluate_tick(context)

    tick = tick_once()
    assert sorted(str(r.partition_key) for r in tick.run_requests) == sorted(drifting)
    for request in tick.run_requests:
        assert graph.run(request).success
    after = {key: graph.trainings(key) for key in before}
    assert {key for key in before if after[key] > before[key]} == set(drifting)  # those two, nothing else
    again = tick_once(tick.cursor)
    assert not again.run_requests, "one check evaluation is acted on once"


def test_weekly_pooled_retrain_schedule_runs_one_search_per_horizon(graph: Trained) -> None:
    pooled = dg.AssetKey("pooled_models")
    before = {h: graph.trainings(h, pooled) for h in HORIZONS}
    context = dg.build_schedule_context(
        instance=graph.instance,
        scheduled_execution_time=MONDAY.replace(hour=2),
        repository_def=graph.defs.get_repository_def(),
    )
    tick = graph.defs.resolve_schedule_def("weekly_pooled_retrain_schedule").evaluate_tick(context)
    assert sorted(str(r.partition_key) for r in tick.run_requests) == sorted(HORIZONS)
    assert len({r.run_key for r in tick.run_requests}) == len(HORIZONS)  # one run per horizon and week
    for request in tick.run_requests:
        result = graph.run(request, "pooled_model_job")
        assert result.success and result.dagster_run.tags["poeconomy/lane"] == "batch"
        searches = [
            e.materialization.metadata["searches"].value for e in result.get_asset_materialization_events()
        ]
        assert searches == [1]  # the horizon's one search
    assert {h: graph.trainings(h, pooled) for h in HORIZONS} == {h: before[h] + 1 for h in HORIZONS}
