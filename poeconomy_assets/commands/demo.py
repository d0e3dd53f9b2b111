"""``poeconomy demo``: simulate a market (or read real dumps) and materialize the whole graph."""

import argparse
import os
import tempfile
from pathlib import Path

import dagster as dg
import polars as pl

from poeconomy_assets.commands.options import add_market_options, add_profile_option, simulation_config
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.partitions import split_currency_horizon
from poeconomy_assets.defs.resources import build_resources, poeconomy_home
from poeconomy_assets.demo.graph_runner import GraphRun, WorkerSpec, materialize_graph
from poeconomy_assets.sim.simulator import write_dumps

TRAINING_POOL_SLOTS = 2  # both cores: two models (or pooled searches) at once


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", help="materialize every asset on the embedded default")
    parser.add_argument("--dumps", type=Path, help="poe.ninja dump directory (default: simulate a market)")
    add_market_options(parser)
    add_profile_option(parser)
    parser.add_argument("--workers", type=int, default=2, help="processes running partitions at once (default 2)")
    parser.add_argument("--daemon", action="store_true",
                        help="launch every run through `dagster dev` (webserver + daemon) as backfills, as a user "
                        "would from the UI: slower (a process per run), but the runs show on job pages and the "
                        "timeline")
    parser.add_argument("--live", action="store_true",
                        help="then start the local POE Watch server: backfill its new league, take a few "
                        "5-minute snapshots and update that league's forecasts and report")
    parser.add_argument("--ticks", type=int, default=3, help="ingestion ticks in --live mode (default 3)")
    return parser


def run(args: argparse.Namespace) -> int:
    home = poeconomy_home()
    if args.dumps:
        dumps = args.dumps.resolve()
        print(f"reading poe.ninja dumps from {dumps}")
    else:
        dumps = home / "dumps"
        files = write_dumps(simulation_config(args), dumps)
        print(f"simulated {len(files)} leagues × {args.currencies} currencies into {dumps}")
    # Local import: the code location module reads the environment at import time.
    from poeconomy_assets.definitions import build_defs

    resources = build_resources(home, dumps)
    defs = build_defs(resources)
    dagster_home = os.environ.get("DAGSTER_HOME")
    if dagster_home:
        instance, instance_dir = dg.DagsterInstance.get(), None
    else:
        instance_dir = tempfile.mkdtemp(prefix="poeconomy-dagster-")
        print(f"DAGSTER_HOME is not set: runs go to a temporary instance in {instance_dir} (make demo sets it)")
        instance = dg.DagsterInstance.local_temp(tempdir=instance_dir)
    pooled_config = {"pooled_models": {"config": {"profile": args.profile}}}
    if args.daemon:
        outcome = _run_through_dagster_dev(Path(dagster_home or instance_dir), home, dumps, pooled_config)
    else:
        spec = WorkerSpec(str(home), str(dumps), instance_dir, {"ops": pooled_config})
        outcome = materialize_graph(defs, instance, {"ops": pooled_config}, workers=args.workers, spec=spec)
    if args.live:
        from poeconomy_assets.demo.live_demo import run_live_demo

        run_live_demo(home, dumps, instance, args.currencies, args.ticks, {"ops": pooled_config})
    print_summary(instance, resources, outcome, dagster_home or instance_dir)
    return 1 if outcome.failed_checks else 0


def _run_through_dagster_dev(dagster_home: Path, home: Path, dumps: Path, pooled_config: dict) -> GraphRun:
    import time

    from poeconomy_assets.demo.dagster_dev import (
        DagsterDev,
        materialize_through_dagster_dev,
        set_pool_limit,
        write_instance_yaml,
    )

    started = time.perf_counter()
    if not (dagster_home / "dagster.yaml").exists():
        write_instance_yaml(dagster_home)
    set_pool_limit(dagster_home, "training", TRAINING_POOL_SLOTS)
    env = {"POECONOMY_HOME": str(home), "POECONOMY_DUMPS_DIR": str(dumps)}
    print(f"starting dagster dev (DAGSTER_HOME={dagster_home}); its log: {dagster_home / 'dagster_dev.log'}")
    with DagsterDev(dagster_home, env) as server:
        print(f"    the UI is at {server.url} while the demo runs")
        runs = materialize_through_dagster_dev(server, {"ops": pooled_config})
    return GraphRun(runs=runs, seconds=time.perf_counter() - started)


def print_summary(instance: dg.DagsterInstance, resources: dict, outcome: GraphRun, dagster_home: str) -> None:
    scores = model_scores(instance)
    leagues = instance.get_dynamic_partitions("league")
    currencies = instance.get_dynamic_partitions("currency")
    print()
    print(f"Done: {outcome.runs} runs in {outcome.seconds:.0f}s; {len(leagues)} leagues, "
          f"{len(currencies)} currencies; failed checks: {outcome.failed_checks or 'none'}")
    if scores is not None:
        print("\nValidation MASE (model MAE / persistence MAE; below 1 beats persistence):")
        print(frame_to_markdown(scores, max_rows=40))
    reports = Path(resources["report_store"].base_dir)
    written = sorted(reports.glob("*.html"), key=lambda p: p.stat().st_mtime)
    if written:
        print(f"\nReports: {reports} (latest: {written[-1]})")
    print(f"Asset data: {resources['io_manager'].base_dir}    Models: {resources['model_store'].base_dir}")
    print(f"Dagster instance: {dagster_home}")
    print(f"Browse the graph, runs and checks:  DAGSTER_HOME={dagster_home} "
          f"POECONOMY_HOME={Path(resources['model_store'].base_dir).parent} "
          "dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000   (or: make ui)")


def model_scores(instance: dg.DagsterInstance) -> pl.DataFrame | None:
    """Each model's validation MASE, from the latest materialization of every price_models partition."""
    records = instance.fetch_materializations(dg.AssetKey("price_models"), limit=10_000).records
    latest: dict[str, float] = {}
    for record in records:  # newest first
        if record.partition_key and record.partition_key not in latest:
            latest[record.partition_key] = record.asset_materialization.metadata["mase"].value
    if not latest:
        return None
    rows = [(*split_currency_horizon(key), mase) for key, mase in latest.items()]
    frame = pl.DataFrame(rows, schema=["currency", "horizon", "mase"], orient="row")
    present = [h for h in HORIZONS if h in frame["horizon"].unique().to_list()]
    return frame.pivot(on="horizon", index="currency", values="mase").sort("currency").select("currency", *present)
