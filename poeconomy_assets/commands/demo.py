"""``poeconomy demo``: simulate a market (or read real dumps) and materialize the whole graph."""

import argparse
import os
from contextlib import nullcontext
from pathlib import Path

import dagster as dg
import polars as pl

from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.resources import build_resources, poeconomy_home
from poeconomy_assets.demo.graph_runner import GraphRun, materialize_graph
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", help="materialize every asset on the embedded default")
    parser.add_argument("--dumps", type=Path, help="poe.ninja dump directory (default: simulate a market)")
    parser.add_argument("--leagues", type=int, default=6, help="simulated leagues (default 6)")
    parser.add_argument("--currencies", type=int, default=10, help="simulated currencies (default 10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", default="test", choices=["test", "development", "production"])
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
        config = SimulationConfig(n_leagues=args.leagues, n_currencies=args.currencies, seed=args.seed)
        files = write_dumps(config, dumps)
        print(f"simulated {len(files)} leagues × {args.currencies} currencies into {dumps}")
    # Local import: the code location module reads the environment at import time.
    from poeconomy_assets.definitions import build_defs

    defs = build_defs(build_resources(home, dumps))
    if not os.environ.get("DAGSTER_HOME"):
        print("DAGSTER_HOME is not set: runs go to a temporary instance the web UI will not see")
        instance_cm = dg.instance_for_test()
    else:
        instance_cm = nullcontext(dg.DagsterInstance.get())
    with instance_cm as instance:
        run_config = {"ops": {"price_models": {"config": {"profile": args.profile}}}}
        outcome = materialize_graph(defs, instance, run_config)
        if args.live:
            from poeconomy_assets.demo.live_demo import run_live_demo

            run_live_demo(home, dumps, instance, args.currencies, args.ticks, run_config)
    print_summary(home, outcome)
    return 1 if outcome.failed_checks else 0


def print_summary(home: Path, outcome: GraphRun) -> None:
    scores = _model_scores(home / "data" / "price_forecasts")
    print()
    print(f"Done: {outcome.runs} runs in {outcome.seconds:.0f}s; {len(outcome.leagues)} leagues, "
          f"{len(outcome.currencies)} currencies; failed checks: {outcome.failed_checks or 'none'}")
    if scores is not None:
        print("\nValidation MASE (model MAE / persistence MAE; below 1 beats persistence):")
        print(frame_to_markdown(scores, max_rows=40))
    reports = sorted((home / "reports").glob("*.html"), key=lambda p: p.stat().st_mtime)
    if reports:
        print(f"\nReports: {home / 'reports'} (latest: {reports[-1]})")
    print(f"Asset data: {home / 'data'}    Models: {home / 'models'}")
    dagster_home = os.environ.get("DAGSTER_HOME", "")
    print(f"Dagster instance: {dagster_home or '(temporary)'}")
    print(f"Browse the graph, runs and checks:  DAGSTER_HOME={dagster_home or '.'} POECONOMY_HOME={home} "
          "dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000   (or: make ui)")


def _model_scores(forecasts_dir: Path) -> pl.DataFrame | None:
    files = list(forecasts_dir.rglob("*.parquet"))
    if not files:
        return None
    frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    return (
        frame.group_by("currency", "horizon")
        .agg(pl.col("validation_mase").first())
        .pivot(on="horizon", index="currency", values="validation_mase")
        .sort("currency")
        .select("currency", *[h for h in HORIZONS if h in frame["horizon"].unique().to_list()])
    )

