"""``poeconomy demo``: simulate a market (or read real dumps) and materialize the whole graph through Dagster.

By default the demo starts ``dagster dev`` (webserver + daemon) and launches what a user launches from the UI:
a run of ``history_job``, then one asset backfill of the whole graph (``defs.selection.MAIN_GRAPH``). Its runs
show on the Runs list, the Backfills page, the timeline and every asset's page. ``--in-process`` materializes the
same selection in this process instead (faster: no daemon tick, no process per run; no timeline entries).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

from poeconomy_assets.commands.options import (
    add_market_options,
    add_profile_option,
    dumps_problem,
    simulation_config,
)
from poeconomy_assets.core.report import check_summary_line, frame_to_markdown
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.jobs import BATCH
from poeconomy_assets.defs.partitions import split_currency_horizon
from poeconomy_assets.defs.resources import build_resources, poeconomy_home
from poeconomy_assets.demo.dagster_dev import write_instance_yaml
from poeconomy_assets.demo.in_process import GraphRun, record_checks
from poeconomy_assets.sim.simulator import write_dumps

TRAINING_POOL_SLOTS = 2  # both cores: two models (or pooled searches) at once


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", help="materialize every asset on the embedded default")
    parser.add_argument("--dumps", type=Path, help="poe.ninja dump directory (default: simulate a market)")
    add_market_options(parser)
    add_profile_option(parser)
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="materialize the graph in this process instead of through `dagster dev` (faster; the "
        "runs are on the Runs list and asset pages, not on the Backfills page or the timeline)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the web UI's port while the demo runs (default: any free)"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="then start the local POE Watch server: backfill its new league, take a few "
        "5-minute snapshots and update that league's forecasts and report",
    )
    parser.add_argument("--ticks", type=int, default=3, help="ingestion ticks in --live mode (default 3)")
    return parser


def run(args: argparse.Namespace) -> int:
    home = poeconomy_home()
    if args.dumps:
        dumps = args.dumps.resolve()
        if problem := dumps_problem(dumps):
            print(f"poeconomy demo: {problem}")
            return 2
        print(f"reading poe.ninja dumps from {dumps}")
    else:
        dumps = home / "dumps"
        files = write_dumps(simulation_config(args), dumps)
        print(f"simulated {len(files)} leagues × {args.currencies} currencies into {dumps}")
    os.environ["POECONOMY_TRAINING_PROFILE"] = (
        args.profile
    )  # the training_settings resource, here and in dagster dev
    resources = build_resources(home, dumps)
    dagster_home = os.environ.get("DAGSTER_HOME")
    if not dagster_home:
        dagster_home = tempfile.mkdtemp(prefix="poeconomy-dagster-")
        write_instance_yaml(Path(dagster_home))
        os.environ["DAGSTER_HOME"] = dagster_home
        print(
            f"DAGSTER_HOME is not set: runs go to a temporary instance in {dagster_home} (make demo sets it)"
        )
    if args.in_process:
        outcome = _run_in_process(Path(dagster_home), resources)
    else:
        outcome = _run_through_dagster_dev(Path(dagster_home), home, dumps, args.port)
    with dg.DagsterInstance.get() as instance:
        if args.live:
            from poeconomy_assets.demo.live_demo import run_live_demo

            run_live_demo(home, dumps, instance, args.currencies, args.ticks)
        print_summary(instance, resources, outcome, dagster_home)
    return 1 if outcome.failed_checks else 0


def _run_in_process(dagster_home: Path, resources: dict) -> GraphRun:
    from poeconomy_assets.definitions import build_defs
    from poeconomy_assets.defs.selection import MAIN_GRAPH, PAST_LEAGUES
    from poeconomy_assets.demo.in_process import materialize_in_process

    with dg.DagsterInstance.get() as instance:
        return materialize_in_process(
            build_defs(resources),
            instance,
            PAST_LEAGUES | MAIN_GRAPH,
            tags=BATCH,
            log=lambda line: print(line, flush=True),
            log_level="INFO",
        )


def _run_through_dagster_dev(dagster_home: Path, home: Path, dumps: Path, port: int) -> GraphRun:
    from poeconomy_assets.definitions import build_defs
    from poeconomy_assets.defs.selection import MAIN_GRAPH, selected_keys
    from poeconomy_assets.demo.dagster_dev import DagsterDev, materialize_through_dagster_dev, set_pool_limit

    started = time.perf_counter()
    set_pool_limit(dagster_home, "training", TRAINING_POOL_SLOTS)
    assets = [k.to_user_string() for k in selected_keys(build_defs(build_resources(home, dumps)), MAIN_GRAPH)]
    env = {"POECONOMY_HOME": str(home), "POECONOMY_DUMPS_DIR": str(dumps)}
    print(f"starting dagster dev (DAGSTER_HOME={dagster_home}); its log: {home / 'dagster_dev.log'}")
    with DagsterDev(dagster_home, env, log_path=home / "dagster_dev.log", port=port or None) as server:
        print(f"    the UI is at {server.url} while the demo runs")
        runs = materialize_through_dagster_dev(server, assets, log=lambda line: print(line, flush=True))
    outcome = GraphRun(
        runs=len(runs), seconds=time.perf_counter() - started, run_ids=[r["runId"] for r in runs]
    )
    with dg.DagsterInstance.get() as instance:
        record_run_checks(instance, outcome)
    return outcome


def record_run_checks(instance: dg.DagsterInstance, outcome: GraphRun) -> None:
    """Every asset check evaluation of ``outcome``'s runs (launched through dagster dev), counted by severity."""
    for run_id in outcome.run_ids:
        evaluations = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
        record_checks(outcome, evaluations, [])


def print_summary(
    instance: dg.DagsterInstance, resources: dict, outcome: GraphRun, dagster_home: str
) -> None:
    scores = model_scores(instance)
    leagues = instance.get_dynamic_partitions("league")
    currencies = instance.get_dynamic_partitions("currency")
    print()
    print(
        f"Done: {outcome.runs} runs in {outcome.seconds:.0f}s; {len(leagues)} leagues, {len(currencies)} currencies"
    )
    print(
        check_summary_line(outcome.evaluations)
        + (
            " — warnings are signals (the scorecard's drift check: see it in the UI), not failed runs"
            if outcome.warned_checks
            else ""
        )
    )
    if scores is not None:
        print("\nValidation rel_mae (model MAE / persistence MAE; below 1 beats persistence):")
        print(frame_to_markdown(scores, max_rows=40))
    reports = Path(resources["report_store"].base_dir)
    written = sorted(reports.glob("*.html"), key=lambda p: p.stat().st_mtime)
    if written:
        print(f"\nReports: {reports} (latest: {written[-1]})")
    print(f"Asset data: {resources['io_manager'].base_dir}    Models: {resources['model_store'].base_dir}")
    print(f"Dagster instance: {dagster_home}")
    print(
        f"Browse the graph, runs, backfills and checks:  DAGSTER_HOME={dagster_home} "
        f"POECONOMY_HOME={Path(resources['model_store'].base_dir).parent} "
        "dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000   (or: make ui)"
    )


def model_scores(instance: dg.DagsterInstance) -> pl.DataFrame | None:
    """Each model's validation relative MAE, from the latest materialization of every price_models partition."""
    records = instance.fetch_materializations(dg.AssetKey("price_models"), limit=10_000).records
    latest: dict[str, float] = {}
    for record in records:  # newest first
        if record.partition_key and record.partition_key not in latest:
            latest[record.partition_key] = record.asset_materialization.metadata["rel_mae"].value
    if not latest:
        return None
    rows = [(*split_currency_horizon(key), rel_mae) for key, rel_mae in latest.items()]
    frame = pl.DataFrame(rows, schema=["currency", "horizon", "rel_mae"], orient="row")
    present = [h for h in HORIZONS if h in frame["horizon"].unique().to_list()]
    return (
        frame.pivot(on="horizon", index="currency", values="rel_mae")
        .sort("currency")
        .select("currency", *present)
    )
