"""The deploy/celery setup for real: 2 Celery worker processes on this machine's RabbitMQ (broker) and Redis
(results), the Dagster instance on PostgreSQL, the asset files on a path both workers share.

A small simulated market is trained and forecast through the workers; the models and forecasts must equal
the in-process run's, steps must have run on both workers, and a worker SIGKILLed in the middle of a backfill
(then restarted) must cost nothing but time: its step is redelivered, the backfill succeeds, and every model
on disk is a whole, verified one.
"""

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from poeconomy_assets.cluster.local import create_database, drop_database, local_cluster_env
from poeconomy_assets.cluster.workers import (
    running_nodes,
    start_cluster,
    start_node,
    stop_cluster,
    uniform_specs,
)
from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.partitions import currency_horizon_keys as model_keys
from poeconomy_assets.defs.partitions import split_currency_horizon
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.celery]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
PROFILE = {"ops": {"price_models": {"config": {"profile": "test"}}}}
POOLED_PROFILE = {"ops": {"pooled_models": {"config": {"profile": "test"}}}}


class Cluster:
    def __init__(self, root: Path, env: dict[str, str], instance: dg.DagsterInstance, keys: list[str]):
        self.root, self.env, self.instance, self.keys = root, env, instance, keys
        self.home = root / "home"
        self.state = root / "cluster"

    def backfill(self, job: str, max_runs: int = 4) -> subprocess.Popen:
        """`poeconomy cluster run`: one run per currency × horizon, orchestrated in its own process."""
        command = [
            sys.executable,
            "-m",
            "poeconomy_assets.cli",
            "cluster",
            "run",
            "--job",
            job,
            "--partition",
            "all",
            "--profile",
            "test",
            "--max-runs",
            str(max_runs),
        ]
        return subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait(self, process: subprocess.Popen, timeout: float = 900) -> list[dict]:
        out, err = process.communicate(timeout=timeout)
        outcomes = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert process.returncode == 0 and all(o["success"] for o in outcomes), f"{out}\n{err[-3000:]}"
        pooled = outcomes and outcomes[0]["job"] in ("pooled_model_job", "calibration_job")
        assert len(outcomes) == (len(HORIZONS) if pooled else len(self.keys))
        return outcomes

    def workers_of(self, run_id: str) -> list[str]:
        """The Celery worker named by each 'Executing steps ... in celery worker' event of the run."""
        records = self.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
        return [
            r.event_log_entry.dagster_event.event_specific_data.metadata["Celery worker"].value
            for r in records
            if "in celery worker" in (r.event_log_entry.dagster_event.message or "")
        ]


def _in_process(
    job: str, defs: dg.Definitions, instance: dg.DagsterInstance, key: str | None, config=None
) -> None:
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=key, run_config={**QUIET, **(config or {})}, raise_on_error=False
    )
    assert result.success, f"{job} [{key}] failed in process"


@pytest.fixture(scope="module")
def cluster(
    postgres_url: str, rabbitmq_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("celery")
    database = create_database(postgres_url)
    env = local_cluster_env(postgres_url, database, root, rabbitmq_url, redis_url)
    write_dumps(
        SimulationConfig(n_leagues=4, n_currencies=3, seed=3, min_days=30, max_days=40), root / "dumps"
    )
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in (
                "POECONOMY_PG_HOST",
                "POECONOMY_PG_PORT",
                "POECONOMY_PG_USER",
                "POECONOMY_PG_PASSWORD",
                "POECONOMY_PG_DB",
                "POECONOMY_DAGSTER_STORAGE",
            ):
                patch.setenv(name, env[name])
            with dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance:
                instance.event_log_storage.set_concurrency_slots("training", 2)
                # Upstream of the fan-out, in process: history, daily prices, features.
                defs = build_defs(build_resources(root / "home", root / "dumps"))
                _in_process("history_job", defs, instance, None)
                for league in instance.get_dynamic_partitions("league"):
                    _in_process("daily_prices_job", defs, instance, league)
                currencies = sorted(instance.get_dynamic_partitions("currency"))
                for currency in currencies:
                    _in_process("features_job", defs, instance, currency)
                keys = model_keys(currencies)
                _reference_run(root, keys, currencies)
                start_cluster(uniform_specs(2), root / "cluster", env, timeout=120)
                try:
                    yield Cluster(root, env, instance, keys)
                finally:
                    stop_cluster(root / "cluster", timeout=20)
                    _delete_queues(rabbitmq_url, env["POECONOMY_CELERY_QUEUE_PREFIX"])
    finally:
        drop_database(postgres_url, database)


def _delete_queues(broker: str, prefix: str) -> None:
    import kombu

    with kombu.Connection(broker) as connection:
        for kind in ("training", "default"):
            connection.default_channel.queue_delete(prefix + kind)


def _reference_run(root: Path, keys: list[str], currencies: list[str]) -> None:
    """The same models and forecasts trained in process (Dagster's default), from the same features."""
    reference = root / "reference"
    shutil.copytree(root / "home" / "data" / "currency_features", reference / "data" / "currency_features")
    defs = build_defs(build_resources(reference, root / "dumps"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("currency", currencies)
        for horizon in HORIZONS:  # one pooled search per horizon, then every model from it
            _in_process("pooled_model_job", defs, instance, horizon, POOLED_PROFILE)
        for key in keys:
            _in_process("model_job", defs, instance, key, PROFILE)
        for horizon in HORIZONS:  # every model's residuals pooled once per horizon, then every forecast
            _in_process("calibration_job", defs, instance, horizon)
        for key in keys:
            _in_process("forecast_job", defs, instance, key)


def _assert_same_as_reference(cluster: Cluster) -> None:
    store, reference = (
        ModelStore(base_dir=str(cluster.home / "models")),
        ModelStore(base_dir=str(cluster.root / "reference" / "models")),
    )
    features = pl.concat(
        [pl.read_parquet(p) for p in (cluster.home / "data" / "currency_features").glob("*.parquet")],
        how="diagonal_relaxed",
    )
    for key in cluster.keys:
        currency, horizon = split_currency_horizon(key)
        model, expected = store.load(currency, horizon), reference.load(currency, horizon)  # sha256 verified
        assert model.params == expected.params and model.weights == expected.weights, key
        np.testing.assert_array_equal(model.predict(features), expected.predict(features), err_msg=key)
        currency_key, _ = key.split("|")
        forecasts = pl.read_parquet(
            cluster.home / "data" / "price_forecasts" / currency_key / f"{horizon}.parquet"
        )
        wanted = pl.read_parquet(
            cluster.root / "reference" / "data" / "price_forecasts" / currency_key / f"{horizon}.parquet"
        )
        assert forecasts.equals(wanted), f"forecasts of {name_from_key(currency_key)} {horizon} differ"


def test_models_and_forecasts_through_two_workers_equal_the_in_process_run(cluster: Cluster) -> None:
    pooled = cluster.wait(cluster.backfill("pooled_model_job"))
    models = pooled + cluster.wait(cluster.backfill("model_job"))
    cluster.wait(cluster.backfill("calibration_job"))
    forecasts = cluster.wait(cluster.backfill("forecast_job"))
    workers = {o["run_id"]: cluster.workers_of(o["run_id"]) for o in models + forecasts}
    assert all(len(names) >= 1 for names in workers.values())  # every step names the worker it ran on
    assert {name.split("@")[0] for names in workers.values() for name in names} == {"w1", "w2"}
    _assert_same_as_reference(cluster)


def _received(log: Path) -> list[str]:
    return (
        re.findall(r"Task execute_plan\[([0-9a-f-]+)\] received", log.read_text(errors="replace"))
        if log.exists()
        else []
    )


def test_a_worker_killed_mid_backfill_is_survived(cluster: Cluster) -> None:
    """SIGKILL one worker (parent and pool) while it trains, restart it, and the backfill still completes:
    the unacknowledged step goes back to the broker and runs again on a live worker."""
    w1 = next(n for n in running_nodes(cluster.state) if n.spec.name == "w1")
    cluster.wait(cluster.backfill("pooled_model_job"))  # (already there after the first test: re-searched)
    before = len(_received(w1.log))
    backfill = cluster.backfill("model_job", max_runs=2)
    deadline = time.monotonic() + 120
    while len(_received(w1.log)) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_received(w1.log)) > before, "w1 never received a step"
    time.sleep(0.5)  # it is now in the middle of its training step
    in_flight = _received(w1.log)[-1]
    w1.kill()
    old_log = w1.log.read_text(errors="replace")
    time.sleep(2)
    restarted = start_node(uniform_specs(2)[0], cluster.state, cluster.env)  # w1 comes back mid-backfill
    cluster.wait(backfill)
    assert f"Task execute_plan[{in_flight}] succeeded" not in old_log  # it really died mid-step ...
    logs = [p.read_text(errors="replace") for p in cluster.state.glob("w*.log")]
    assert any(f"Task execute_plan[{in_flight}] succeeded" in text for text in logs)  # ... and ran again
    assert restarted.alive()
    _assert_same_as_reference(cluster)  # every model on disk is whole, verified and the same
