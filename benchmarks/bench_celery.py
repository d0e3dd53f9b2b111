"""Training on 1 vs 2 Celery workers, the shared Optuna search with 1 vs 2 processes, and per-step overheads.

    nice -n 10 .venv/bin/python benchmarks/bench_celery.py [--currencies 10] [--leagues 6] [--profile development]
        [--json benchmarks/out/celery.json]

Everything runs on this machine's RabbitMQ, Redis and PostgreSQL in throw-away places (a fresh database,
queues of its own, a temp folder). Phases:
1. training: every currency × horizon model of a simulated market (development profile) through the Celery
   workers, once with 1 worker node and once with 2 (concurrency 1 each, the `training` pool sized to
   match), the shared Optuna studies on (POECONOMY_OPTUNA_STORAGE_URL, its own schema per phase);
2. the pooled LightGBM search of one horizon on one RDB study, run by 1 then by 2 processes;
3. per-step overheads: for each run of phase 1, run wall time minus the step's own time (instance step
   stats), the event-log rows it wrote, and the size of the step's result message.
The ratios are measured in one run, so the machine's load affects both sides; on a shared machine they are
still distorted by whatever else runs (the load average is printed).
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import psycopg2

from poeconomy_assets.cluster.local import create_database, drop_database, local_cluster_env
from poeconomy_assets.cluster.workers import start_cluster, stop_cluster, uniform_specs
from poeconomy_assets.core.features import feature_columns, target_column
from poeconomy_assets.core.models import LIGHTGBM, optuna_storage, tune_family, walk_forward_folds
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.partitions import currency_horizon_keys as model_keys
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def upstream(root: Path, env: dict[str, str]) -> list[str]:
    """History, daily prices and features in process (not what is measured); returns the model keys."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with dg.DagsterInstance.get() as instance:
            defs = build_defs(build_resources(root / "home", root / "dumps"))
            for job, keys in (("history_job", [None]), ("daily_prices_job", None), ("features_job", None)):
                if keys is None:
                    keys = instance.get_dynamic_partitions(
                        "league" if job == "daily_prices_job" else "currency"
                    )
                for key in keys:
                    result = defs.resolve_job_def(job).execute_in_process(
                        instance=instance, partition_key=key, run_config=QUIET
                    )
                    assert result.success, (job, key)
            return model_keys(sorted(instance.get_dynamic_partitions("currency")))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def train_on_workers(root: Path, env: dict[str, str], workers: int, profile: str, keys: list[str]) -> dict:
    state = root / f"cluster-{workers}"
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with dg.DagsterInstance.get() as instance:
            instance.event_log_storage.set_concurrency_slots("training", workers)
        start_cluster(uniform_specs(workers, prefix=f"b{workers}w"), state, env, timeout=180)
        started = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "poeconomy_assets.cli",
            "cluster",
            "run",
            "--job",
            "model_job",
            "--partition",
            "all",
            "--profile",
            profile,
            "--max-runs",
            str(2 * workers),
        ]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        outcomes = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode or len(outcomes) != len(keys):
            raise RuntimeError(
                f"training on {workers} workers failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
            )
        with dg.DagsterInstance.get() as instance:
            overheads = [overhead(instance, o["run_id"], o["seconds"]) for o in outcomes]
    finally:
        stop_cluster(state, timeout=30)
        os.environ.clear()
        os.environ.update(saved)
    return {"workers": workers, "models": len(keys), "wall_seconds": round(wall, 1), "overheads": overheads}


def overhead(instance: dg.DagsterInstance, run_id: str, run_seconds: float) -> dict:
    steps = instance.get_run_step_stats(run_id)
    step_seconds = sum((s.end_time or 0) - (s.start_time or 0) for s in steps)
    records = instance.get_records_for_run(run_id, limit=10_000).records
    return {"run_seconds": run_seconds, "step_seconds": step_seconds, "event_rows": len(records)}


def search_process(url: str, schema: str, study: str, dumps: str, trials: int, start_at: float) -> float:
    """One participant of the shared search (phase 2); returns its wall time."""
    from poeconomy_assets.core.features import build_features
    from poeconomy_assets.core.ingest import read_dump_dir

    features = build_features(read_dump_dir(dumps).prices)
    target = target_column("3d")
    rows = features.filter(pl.col(target).is_not_null()).sort("date", "currency")
    folds = walk_forward_folds(rows, n_folds=3, gap_days=3)
    storage = optuna_storage(url, schema)
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    tune_family(
        LIGHTGBM,
        folds,
        feature_columns(features),
        target,
        n_trials=trials,
        seed=0,
        storage=storage,
        study_name=study,
    )
    return time.perf_counter() - started


def shared_search(url: str, dumps: Path, processes: int, trials: int) -> float:
    schema = f"bench_optuna_{uuid.uuid4().hex[:6]}"
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 15  # every process has imported and read the data before the clock starts
    try:
        with context.Pool(processes) as pool:
            times = pool.starmap(
                search_process, [(url, schema, "bench", str(dumps), trials, start_at)] * processes
            )
    finally:
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return max(times)


def summary(phase: dict) -> dict:
    runs = np.array([o["run_seconds"] for o in phase["overheads"]])
    steps = np.array([o["step_seconds"] for o in phase["overheads"]])
    rows = np.array([o["event_rows"] for o in phase["overheads"]])
    return {
        "median_run_s": round(float(np.median(runs)), 2),
        "median_step_s": round(float(np.median(steps)), 2),
        "median_overhead_s": round(float(np.median(runs - steps)), 2),
        "median_event_rows": int(np.median(rows)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--currencies", type=int, default=10)
    parser.add_argument("--leagues", type=int, default=6)
    parser.add_argument("--profile", default="development")
    parser.add_argument("--trials", type=int, default=8, help="phase 2: trials of the shared search")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--broker", default="pyamqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--backend", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    database = create_database(args.postgres_url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-celery-") as tmp:
            root = Path(tmp)
            env = local_cluster_env(args.postgres_url, database, root, args.broker, args.backend)
            server = args.postgres_url.rsplit("/", 1)[0]
            # The shared Optuna studies, as the Celery deployment runs them (schema "optuna").
            env["POECONOMY_OPTUNA_STORAGE_URL"] = f"{server}/{database}"
            write_dumps(
                SimulationConfig(n_leagues=args.leagues, n_currencies=args.currencies, seed=7), root / "dumps"
            )
            keys = upstream(root, env)
            phases = []
            for workers in (1, 2):
                phases.append(train_on_workers(root, env, workers, args.profile, keys))
                # A fresh Optuna schema per phase: the second phase must search, not read the first's studies.
                with psycopg2.connect(f"{server}/{database}") as connection, connection.cursor() as cursor:
                    cursor.execute('DROP SCHEMA IF EXISTS "optuna" CASCADE')
                print(
                    f"training, {workers} worker(s): {phases[-1]['wall_seconds']} s for {len(keys)} models; "
                    f"{summary(phases[-1])}"
                )
            search = {
                p: shared_search(f"{server}/{database}", root / "dumps", p, args.trials) for p in (1, 2)
            }
            print(
                f"shared search ({args.trials} trials): 1 process {search[1]:.1f} s, 2 processes {search[2]:.1f} s"
            )
    finally:
        drop_database(args.postgres_url, database)
    result = {
        "models": len(keys),
        "profile": args.profile,
        "training_seconds": {p["workers"]: p["wall_seconds"] for p in phases},
        "training_speedup": round(phases[0]["wall_seconds"] / phases[1]["wall_seconds"], 2),
        "per_run": {p["workers"]: summary(p) for p in phases},
        "search_seconds": {k: round(v, 1) for k, v in search.items()},
        "search_speedup": round(search[1] / search[2], 2),
        "load_average_after": os.getloadavg(),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
