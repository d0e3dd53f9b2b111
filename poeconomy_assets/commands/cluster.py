"""``poeconomy cluster up|down|status|demo``: Celery workers as separate processes, and the main job on them.

The deployment is set by the environment (``make cluster-up`` / ``make demo-celery`` set it for this
machine): ``DAGSTER_HOME`` (an instance on PostgreSQL, deploy/postgres), ``POECONOMY_CELERY_CONFIG``
(deploy/celery/celery.yaml) with ``POECONOMY_CELERY_BROKER`` / ``POECONOMY_CELERY_BACKEND``, and
``POECONOMY_HOME`` (asset files and models: a path every worker can reach).
"""

import argparse
import os
import sys
import time
from pathlib import Path

from poeconomy_assets.cluster.workers import read_node_specs, running_nodes, uniform_specs
from poeconomy_assets.commands.options import add_market_options, add_profile_option, simulation_config

DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "deploy" / "celery" / "workers.yaml"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("cluster", help="Celery workers (deploy/celery): up, down, status, demo")
    parser.add_argument("action", choices=["up", "down", "status", "demo", "run"])
    parser.add_argument("--job", help="run: the job (model_job, forecast_job, ...)")
    parser.add_argument(
        "--partition",
        action="append",
        default=[],
        help="run: a partition key (repeat); `all` = every currency × horizon",
    )
    parser.add_argument(
        "--workers", type=int, help="N identical nodes serving both queues (instead of --spec)"
    )
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per node with --workers")
    parser.add_argument(
        "--spec", type=Path, default=DEFAULT_SPEC, help="worker nodes (deploy/celery/workers.yaml)"
    )
    parser.add_argument("--state-dir", type=Path, help="pid and log files (default $POECONOMY_HOME/cluster)")
    add_market_options(parser, used_by="demo: ")
    add_profile_option(parser)
    parser.add_argument("--max-runs", type=int, default=4, help="demo: runs in flight at once")
    return parser


def _state_dir(args: argparse.Namespace) -> Path:
    from poeconomy_assets.defs.resources import poeconomy_home

    return (args.state_dir or poeconomy_home() / "cluster").resolve()


def _require_env() -> None:
    missing = [v for v in ("DAGSTER_HOME", "POECONOMY_CELERY_CONFIG") if not os.environ.get(v)]
    if missing:
        sys.exit(f"poeconomy cluster: set {', '.join(missing)} (make cluster-up / make demo-celery set them)")


def up(args: argparse.Namespace) -> int:
    import dagster as dg

    from poeconomy_assets.cluster.workers import start_cluster

    _require_env()
    specs = (
        uniform_specs(args.workers, concurrency=args.concurrency)
        if args.workers
        else read_node_specs(args.spec)
    )
    training_slots = sum(s.concurrency for s in specs if "training" in s.queues)
    with dg.DagsterInstance.get() as instance:
        # The `training` pool caps training steps across all runs: one slot per training process.
        instance.event_log_storage.set_concurrency_slots("training", max(1, training_slots))
    nodes = start_cluster(specs, _state_dir(args))
    for node in nodes:
        print(
            f"{node.hostname}: pid {node.pid}, queues {','.join(node.spec.queues)}, "
            f"concurrency {node.spec.concurrency}, log {node.log}"
        )
    print(f"{len(nodes)} workers up; `training` pool: {training_slots} slots")
    return 0


def down(args: argparse.Namespace) -> int:
    from poeconomy_assets.cluster.workers import stop_cluster

    stopped = stop_cluster(_state_dir(args))
    print(f"stopped {len(stopped)} workers{': ' + ', '.join(stopped) if stopped else ''}")
    return 0


def status(args: argparse.Namespace) -> int:
    nodes = running_nodes(_state_dir(args))
    for node in nodes:
        print(f"{node.spec.name}: pid {node.pid}, log {node.log}")
    print(f"{len(nodes)} workers running")
    return 0


def demo(args: argparse.Namespace) -> int:
    """The main job with every step on the Celery workers: the same run of history_job and asset backfill of the
    whole graph as ``poeconomy demo``, launched through ``dagster dev`` on this deployment's instance (PostgreSQL),
    whose code location runs steps with the Celery executor (POECONOMY_CELERY_CONFIG)."""
    import dagster as dg

    from poeconomy_assets.commands.demo import print_summary, record_run_checks
    from poeconomy_assets.definitions import build_defs
    from poeconomy_assets.defs.resources import build_resources, poeconomy_home
    from poeconomy_assets.defs.selection import MAIN_GRAPH, selected_keys
    from poeconomy_assets.demo.dagster_dev import DagsterDev, materialize_through_dagster_dev
    from poeconomy_assets.demo.in_process import GraphRun
    from poeconomy_assets.sim.simulator import write_dumps

    _require_env()
    state = _state_dir(args)
    started_here = not running_nodes(state)
    if started_here:
        up(args)
    home = poeconomy_home()
    dumps = Path(os.environ.get("POECONOMY_DUMPS_DIR") or home / "dumps")
    files = write_dumps(simulation_config(args), dumps)
    print(f"simulated {len(files)} leagues × {args.currencies} currencies into {dumps}")
    os.environ["POECONOMY_TRAINING_PROFILE"] = args.profile
    assets = [k.to_user_string() for k in selected_keys(build_defs(build_resources(home, dumps)), MAIN_GRAPH)]
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    try:
        started = time.perf_counter()
        env = {"POECONOMY_HOME": str(home), "POECONOMY_DUMPS_DIR": str(dumps)}
        with DagsterDev(dagster_home, env, log_path=state / "dagster_dev.log") as server:
            print(f"    the UI is at {server.url} while the demo runs")
            runs = materialize_through_dagster_dev(
                server, assets, log=lambda line: print(line, flush=True), title="poeconomy cluster demo"
            )
        outcome = GraphRun(
            runs=len(runs), seconds=time.perf_counter() - started, run_ids=[r["runId"] for r in runs]
        )
        with dg.DagsterInstance.get() as instance:
            record_run_checks(instance, outcome)
            print_summary(instance, build_resources(home, dumps), outcome, str(dagster_home))
        workers = sorted(p.stem for p in state.glob("*.log") if p.stem != "dagster_dev")
        print(
            f"Steps ran on the Celery workers {', '.join(workers)} (each step's 'Executing steps ... in celery "
            "worker' event names its worker)"
        )
    finally:
        if started_here:
            down(args)
    return 1 if outcome.failed_checks else 0


def run_partitions(args: argparse.Namespace) -> int:
    """One run per partition of one job on the running workers (a backfill); prints one JSON line per run."""
    import dataclasses
    import json

    import dagster as dg

    from poeconomy_assets.cluster.runs import run_many
    from poeconomy_assets.core.schemas import HORIZONS
    from poeconomy_assets.defs.partitions import currency_horizon_keys, currency_partitions

    _require_env()
    with dg.DagsterInstance.get() as instance:
        keys = args.partition or [None]
        if keys == ["all"]:
            keys = (
                list(HORIZONS)
                if args.job in ("pooled_model_job", "calibration_job")
                else currency_horizon_keys(sorted(instance.get_dynamic_partitions(currency_partitions.name)))
            )
        op = {"model_job": "price_models", "pooled_model_job": "pooled_models"}.get(args.job)
        config = {"ops": {op: {"config": {"profile": args.profile}}}} if op else None
        outcomes = run_many(
            instance,
            args.job,
            keys,
            config,
            args.max_runs,
            on_done=lambda o: print(json.dumps(dataclasses.asdict(o)), flush=True),
        )
    return 0 if all(o.success for o in outcomes) else 1


def run(args: argparse.Namespace) -> int:
    actions = {"up": up, "down": down, "status": status, "demo": demo, "run": run_partitions}
    return actions[args.action](args)
