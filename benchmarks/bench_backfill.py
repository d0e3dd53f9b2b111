"""A UI-style backfill of every ``price_models`` partition against the same models trained in process.

    nice -n 10 .venv/bin/python benchmarks/bench_backfill.py [--leagues 6] [--currencies 10] [--keep DIR]

On the simulated demo market (6 leagues × 10 currencies, seed 7, ``test`` profile):
1. in process: history, daily prices and features; the three pooled models; then the 30 ``model_job`` runs
   one after another in this process (what ``poeconomy demo --workers 1`` does), timed;
2. the daemon: a copy of the same features, `dagster dev` on a temporary instance (two runs at once, two
   training slots), then what a user does in the UI: "Materialize all" of ``pooled_models``, then of
   ``price_models`` (30 partitions, one run each), launched over GraphQL. Timed from the launch to the end
   of the last run, and to the backfill's COMPLETED status (the backfill daemon looks every 30 s);
3. checks: one pooled search per horizon, and the backfill's models equal the in-process ones.

Target (issue 12): the backfill of all ``price_models`` partitions ≤ 1.25 × the in-process time.
"""

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
from poeconomy_assets.demo.graph_runner import GraphRunner

from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.partitions import register_partitions
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.demo.dagster_dev import DagsterDev, write_instance_yaml
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


def instance_at(directory: Path) -> dg.DagsterInstance:
    directory.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.local_temp(tempdir=str(directory))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leagues", type=int, default=6)
    parser.add_argument("--currencies", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores); work folder {root}")

    dumps, home = root / "dumps", root / "in_process"
    write_dumps(SimulationConfig(n_leagues=args.leagues, n_currencies=args.currencies, seed=args.seed), dumps)
    runner = GraphRunner(build_defs(build_resources(home, dumps)), instance_at(root / "in_process_dagster"),
                         log=lambda _: None)
    t = time.perf_counter()
    runner.inputs()
    print(f"in process: history, daily prices and features in {time.perf_counter() - t:.1f}s")
    features_copy = root / "daemon"
    shutil.copytree(home, features_copy)  # the daemon starts from the same features, nothing trained
    t = time.perf_counter()
    runner.run_all("pooled_model_job", list(HORIZONS))
    pooled_seconds = time.perf_counter() - t
    keys = runner.model_keys()
    t = time.perf_counter()
    runner.run_all("model_job", keys)
    models_seconds = time.perf_counter() - t
    print(f"in process, one process: 3 pooled searches {pooled_seconds:.1f}s; {len(keys)} models "
          f"{models_seconds:.1f}s (load {os.getloadavg()[0]:.1f})")

    dagster_home = root / "daemon_dagster"
    write_instance_yaml(dagster_home)
    instance = instance_at(dagster_home)
    register_partitions(instance, runner.outcome.leagues, runner.outcome.currencies)
    env = {"POECONOMY_HOME": str(features_copy), "POECONOMY_DUMPS_DIR": str(dumps)}
    t = time.perf_counter()
    with DagsterDev(dagster_home, env) as server:
        print(f"dagster dev ready in {time.perf_counter() - t:.1f}s")
        pooled_bf = timed_backfill(server, instance, "pooled_models")
        models_bf = timed_backfill(server, instance, "price_models")
    searches = instance.fetch_materializations(dg.AssetKey("pooled_models"), limit=100).records
    print(f"pooled searches in the daemon's instance: {len(searches)} ({sorted(r.partition_key for r in searches)})")
    same = stored_models(home) == stored_models(features_copy)
    print(f"backfill models equal the in-process ones: {same}")
    for name, (runs_done, completed, n) in (("pooled_models", pooled_bf), ("price_models", models_bf)):
        print(f"backfill of {name} ({n} runs): last run done {runs_done:.1f}s after launch, backfill COMPLETED "
              f"after {completed:.1f}s")
    ratio = models_bf[0] / models_seconds
    both = (pooled_bf[0] + models_bf[0]) / (pooled_seconds + models_seconds)
    print(f"price_models backfill / in-process models: {ratio:.2f}x (target <= 1.25); pooled + models: {both:.2f}x; "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


def timed_backfill(server: DagsterDev, instance: dg.DagsterInstance, asset: str) -> tuple[float, float, int]:
    """(seconds from launch to the end of its last run, seconds to COMPLETED status, runs)."""
    launched = time.time()
    backfill = server.launch_backfill([asset], title=f"bench {asset}")
    status = server.wait_backfill(backfill, timeout=7200)
    completed = time.time() - launched
    runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill}))
    if status != "COMPLETED_SUCCESS" or any(r.dagster_run.status != dg.DagsterRunStatus.SUCCESS for r in runs):
        raise SystemExit(f"backfill of {asset} ended {status}; see {server.log_path}")
    return max(r.end_time for r in runs) - launched, completed, len(runs)


def stored_models(home: Path) -> dict[str, str]:
    """Each stored currency model's manifest minus what legitimately differs (hashes of pickles, timings)."""
    import json

    out = {}
    for path in sorted((home / "models").glob("*/*/manifest.json")):
        manifest = json.loads(path.read_text())
        if manifest.get("kind") == "pooled":
            continue
        out[str(path.relative_to(home))] = json.dumps(
            {k: manifest[k] for k in ("weights", "return_scale", "params")} | {"mase": manifest["metrics"]["mase"]},
            sort_keys=True)
    return out


if __name__ == "__main__":
    main()
