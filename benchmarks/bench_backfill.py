"""A UI-style asset backfill of a whole league's graph, at market scale, against the same core computations
called directly in one process.

    nice -n 10 .venv/bin/python benchmarks/bench_backfill.py [--currencies 180] [--leagues 4] [--profile test]
    nice -n 10 .venv/bin/python benchmarks/bench_backfill.py --dumps ../shared/data/poe-ninja --newest 4

1. direct: in this process, no Dagster: the dumps read and canonicalized, each league's daily prices, the features
   of every currency (one build), one pooled search per horizon, every currency × horizon model (saved, signed),
   each horizon's pooled calibration, every forecast, every league's report. Wall and CPU seconds.
2. Dagster as a user runs it: `dagster dev` on a temporary instance (the demo's: two runs at once, two training
   slots), a run of history_job, then one asset backfill of the whole graph (``defs.selection.MAIN_GRAPH``, every
   partition), launched over GraphQL as the UI's "Materialize all" does; the backfill daemon cuts and orders the
   runs. Wall from the launch of the history run to the backfill's end, and the CPU of every process (children).
3. the ratio of the two walls, the runs and partitions, and a check that the forecasts are the same numbers.

Target (issue 19): the backfill ≤ 1.3 × the direct wall time. The backfill daemon looks at a backfill every 30 s
(fixed in Dagster 1.13), and each level of the graph waits for the level above: 8 levels cost up to ~4 min of
latency however small the market. The ratio is measured, not assumed.
"""

import argparse
import importlib.util
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import polars as pl

from poeconomy_assets.core.features import build_features
from poeconomy_assets.core.ingest import canonicalize_currencies
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.models import (
    SelectionConfig,
    horizon_training_rows,
    select_currencies,
    train_currency_model,
    train_pooled_model,
)
from poeconomy_assets.core.report import ReportSettings, build_report
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.core.uncertainty import build_forecasts, stored_calibration
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.selection import MAIN_GRAPH, selected_keys
from poeconomy_assets.demo.dagster_dev import (
    DagsterDev,
    materialize_through_dagster_dev,
    set_pool_limit,
    write_instance_yaml,
)
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


def _tree_sampler():  # benchmarks/measure_tree.py, a sibling script (benchmarks/ is not a package)
    spec = importlib.util.spec_from_file_location("measure_tree", Path(__file__).with_name("measure_tree.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TreeSampler


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def direct(
    home: Path, dumps: Path, profile: str
) -> tuple[dict[str, float], dict[tuple[str, str], pl.DataFrame]]:
    """The core computations of the graph, called one after another (seconds per stage, forecasts by key)."""
    resources = build_resources(home, dumps)
    store = resources["model_store"]
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    imported = resources["poe_ninja_dumps"].read()
    prices = canonicalize_currencies(imported.prices).prices
    eligible = select_currencies(
        prices, SelectionConfig(), live_items=set(prices["currency"].unique().to_list())
    )
    daily = pl.concat(
        [prices.filter(pl.col("league") == lg).sort("currency", "date") for lg in imported.leagues]
    )
    features = build_features(daily)
    features = features.filter(pl.col("currency").is_in(list(eligible.selected)))
    seconds["history, daily prices, features"] = time.perf_counter() - t
    t = time.perf_counter()
    pooled = {h: train_pooled_model(features, h, profile=profile) for h in HORIZONS}
    for model in pooled.values():
        store.save_pooled(model)
    seconds["pooled searches"] = time.perf_counter() - t
    t = time.perf_counter()
    currencies = sorted(eligible.selected)
    models = {}
    for horizon in HORIZONS:
        rows = horizon_training_rows(features, pooled[horizon])
        for currency in currencies:
            model = models[currency, horizon] = train_currency_model(
                features, currency, horizon, pooled=pooled[horizon], training_rows=rows
            )
            store.save(model)
    seconds["models"] = time.perf_counter() - t
    t = time.perf_counter()
    forecasts = {}
    for horizon in HORIZONS:
        found, _ = store.stored_residuals(currencies, horizon)
        calibration = stored_calibration(features, found, horizon)
        for currency in currencies:
            forecasts[currency, horizon] = build_forecasts(features, models[currency, horizon], calibration)
    seconds["calibration, forecasts"] = time.perf_counter() - t
    t = time.perf_counter()
    every = pl.concat(list(forecasts.values()), how="diagonal_relaxed")
    for league in imported.leagues:
        build_report(league, every, daily.filter(pl.col("league") == league), ReportSettings())
    seconds["reports"] = time.perf_counter() - t
    return seconds, forecasts


def newest_leagues(directory: Path, count: int) -> list[Path]:
    """The dump files of the ``count`` leagues whose first date is latest."""

    def first_date(path: Path) -> str:
        with path.open(encoding="utf-8-sig") as handle:
            handle.readline()
            return handle.readline().split(";")[1]

    return sorted(directory.glob("*.csv"), key=first_date)[-count:]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--currencies", type=int, default=180)
    parser.add_argument("--leagues", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dumps", type=Path, help="real dumps instead of a simulated market")
    parser.add_argument(
        "--newest", type=int, default=4, help="with --dumps: this many newest leagues (symlinked)"
    )
    parser.add_argument("--profile", default="test", choices=["test", "development", "production"])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["POECONOMY_TRAINING_PROFILE"] = args.profile
    dumps = root / "dumps"
    if args.dumps:  # symlinks to the newest leagues' files: the real data stays where it is
        dumps.mkdir(exist_ok=True)
        for path in newest_leagues(args.dumps.resolve(), args.newest):
            (dumps / path.name).symlink_to(path)
    else:
        write_dumps(
            SimulationConfig(n_leagues=args.leagues, n_currencies=args.currencies, seed=args.seed), dumps
        )
    print(
        f"load average at start: {os.getloadavg()[0]:.1f} (2 cores); work folder {root}; profile {args.profile}"
    )

    wall, cpu = time.perf_counter(), cpu_self()
    stages, forecasts = direct(root / "direct", dumps, args.profile)
    direct_wall, direct_cpu = time.perf_counter() - wall, cpu_self() - cpu
    items = len({c for c, _ in forecasts})
    print(
        f"direct: {items} items × {len(HORIZONS)} horizons in {direct_wall:.1f}s wall, {direct_cpu:.1f} CPU-s "
        f"({', '.join(f'{k} {v:.1f}s' for k, v in stages.items())})"
    )

    dagster_home, home = root / "dagster", root / "daemon"
    write_instance_yaml(dagster_home)
    set_pool_limit(dagster_home, "training", 2)
    assets = [k.to_user_string() for k in selected_keys(build_defs(build_resources(home, dumps)), MAIN_GRAPH)]
    env = {"POECONOMY_HOME": str(home), "POECONOMY_DUMPS_DIR": str(dumps), "DAGSTER_HOME": str(dagster_home)}
    with DagsterDev(dagster_home, env) as server:
        sampler, done = _tree_sampler()(server.process.pid), threading.Event()

        def sample() -> None:
            while not done.is_set():
                sampler.sample()
                time.sleep(0.5)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        wall = time.perf_counter()
        runs = materialize_through_dagster_dev(server, assets, log=print, title="bench_backfill")
        backfill_wall = time.perf_counter() - wall
        done.set()
        thread.join()
    backfill_cpu = sum(sampler.cpu.values())
    print(
        f"dagster: a history_job run and one asset backfill, {len(runs)} runs, {backfill_wall:.1f}s wall from the "
        f"first launch to the last run's end; {backfill_cpu:.1f} CPU-s in dagster dev and every run process "
        f"(webserver, daemon and code server included; sampled from /proc: {sampler.summary()})"
    )

    same = differ = 0
    for (currency, horizon), frame in forecasts.items():
        path = home / "data" / "price_forecasts" / key_from_name(currency) / f"{horizon}.parquet"
        if path.exists() and pl.read_parquet(path).equals(frame):
            same += 1
        else:
            differ += 1
    print(f"forecasts equal to the direct path's: {same} of {same + differ}")
    print(
        f"RESULT ratio (backfill wall / direct wall): {backfill_wall / direct_wall:.2f} "
        f"(target ≤ 1.3); CPU ratio {backfill_cpu / max(direct_cpu, 1e-9):.2f}; runs {len(runs)}; "
        f"peak RSS of the direct path's process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
