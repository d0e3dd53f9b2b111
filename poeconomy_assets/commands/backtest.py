"""``poeconomy backtest``: train on the leagues before a test league, forecast every day of it, score.

    poeconomy backtest --dumps DIR --test-league NAME [--profile test|development|production]
                       --json OUT [--rolling N] [--min-days D] [--min-reliable-rows R]

``--rolling N`` backtests the N leagues ending with the test league (each trained only on the leagues
before it). Progress (items done / total, time left) goes to standard error.
"""

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from poeconomy_assets.commands.options import dumps_problem
from poeconomy_assets.core.evaluation import (
    StrategySettings,
    backtest_league,
    follow_the_report,
    league_prices,
    rolling_backtest,
)
from poeconomy_assets.core.ingest import read_dump_dir
from poeconomy_assets.core.models import MIN_DAYS, MIN_RELIABLE_ROWS, PROFILES, SelectionConfig
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.report import pct_text, track_record_sentence
from poeconomy_assets.core.schemas import HORIZONS


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("backtest", help="score forecasts on a league the models never saw")
    parser.add_argument(
        "--dumps", type=Path, required=True, help="folder of poe.ninja {League}.currency.csv dumps"
    )
    parser.add_argument(
        "--test-league", required=True, help="league to forecast; trains on every earlier league"
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="development")
    parser.add_argument("--json", type=Path, required=True, help="write the scorecard here")
    parser.add_argument(
        "--rolling",
        type=int,
        default=0,
        metavar="N",
        help="also backtest each of the last N leagues in turn and average them",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--currencies", help="comma-separated subset of currencies (default: all in the test league)"
    )
    parser.add_argument("--horizons", default=",".join(HORIZONS), help="comma-separated subset of 1d,3d,7d")
    parser.add_argument(
        "--min-days",
        type=int,
        default=MIN_DAYS,
        help=f"forecast an item only with this many priced days of history (default {MIN_DAYS})",
    )
    parser.add_argument(
        "--min-reliable-rows",
        type=int,
        default=MIN_RELIABLE_ROWS,
        help=f"... of which this many not marked Low confidence (default {MIN_RELIABLE_ROWS})",
    )
    parser.add_argument(
        "--save-forecasts",
        type=Path,
        metavar="DIR",
        help="also write each held-out league's out-of-sample forecasts to DIR/{league}-{horizon}"
        ".parquet (keep DIR outside the project: they hold real prices)",
    )
    parser.add_argument(
        "--replay-forecasts",
        type=Path,
        metavar="DIR",
        help="no training: replay the track record on forecasts saved by --save-forecasts (the "
        "test league, and with --rolling N the N leagues ending with it)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    return parser


class _LogHandler(logging.Handler):
    def __init__(self, log: "Callable[[str], None]") -> None:
        super().__init__(logging.INFO)
        self.log_line = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log_line(record.getMessage())


def _print_search_progress(log: "Callable[[str], None]") -> None:
    """The pooled searches' progress lines (trials done, time left; core.models.tuning) on the command's log."""
    search = logging.getLogger("poeconomy.search")
    search.setLevel(logging.INFO)
    search.handlers = [_LogHandler(log)]
    search.propagate = False


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    quiet = getattr(args, "quiet", False)

    def log(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    if problem := dumps_problem(Path(args.dumps)):
        print(f"poeconomy backtest: {problem}", file=sys.stderr)
        return 2
    _print_search_progress(log)
    prices = read_dump_dir(args.dumps).prices
    seed = getattr(args, "seed", 0)
    currencies = [
        c.strip() for c in (getattr(args, "currencies", None) or "").split(",") if c.strip()
    ] or None
    horizons = [
        h.strip() for h in (getattr(args, "horizons", None) or ",".join(HORIZONS)).split(",") if h.strip()
    ]
    unknown = [h for h in horizons if h not in HORIZONS]
    if unknown:
        print(f"unknown horizon(s) {unknown}; expected some of {list(HORIZONS)}", file=sys.stderr)
        return 2
    min_days, min_reliable = getattr(args, "min_days", None), getattr(args, "min_reliable_rows", None)
    selection = SelectionConfig(
        min_days=MIN_DAYS if min_days is None else min_days,
        min_reliable_rows=MIN_RELIABLE_ROWS if min_reliable is None else min_reliable,
    )
    if replay_dir := getattr(args, "replay_forecasts", None):
        return _replay(prices, args, replay_dir, started)
    options = {
        "horizons": horizons,
        "currencies": currencies,
        "seed": seed,
        "log": log,
        "selection": selection,
    }
    if save_dir := getattr(args, "save_forecasts", None):
        options["on_points"] = lambda league, horizon, points: save_forecasts(
            save_dir, league, horizon, points
        )
    try:
        result = backtest_league(prices, args.test_league, args.profile, **options)
        rolling = getattr(args, "rolling", 0) or 0
        if rolling > 0:
            done = {args.test_league: dict(result)}
            partial: dict[str, dict] = {}

            def save_partial(league: str, scores: dict) -> None:  # a long run leaves usable results behind
                partial[league] = scores
                _write(args.json, {**result, "rolling_partial": partial})

            result["rolling"] = rolling_backtest(
                prices,
                rolling,
                args.profile,
                done=done,
                on_league=save_partial,
                last_league=args.test_league,
                **options,
            )
    except ValueError as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2
    result["seconds"] = round(time.perf_counter() - started, 1)
    _write(args.json, result)
    print(_table(result), file=sys.stderr if quiet else sys.stdout)
    return 0


def _replay(prices, args: argparse.Namespace, directory: Path, started: float) -> int:
    """The track record of each league from saved forecasts (see --save-forecasts), without retraining."""
    rolling = getattr(args, "rolling", 0) or 0
    order = league_order(prices)
    if args.test_league not in order:
        print(f"backtest: test league {args.test_league!r} is not in the data", file=sys.stderr)
        return 2
    end = order.index(args.test_league) + 1
    leagues = order[max(0, end - max(rolling, 1)) : end]
    per_league = {}
    for league in leagues:
        path = forecasts_path(directory, league, "7d")
        if not path.exists():
            print(f"backtest: no saved forecasts {path} (run with --save-forecasts first)", file=sys.stderr)
            return 2
        per_league[league] = {
            "test_league": league,
            "replayed_from": path.name,
            "strategy": follow_the_report(
                pl.read_parquet(path), league_prices(prices, league), StrategySettings(horizon="7d")
            ),
        }
    result = {**per_league[args.test_league], "seconds": round(time.perf_counter() - started, 1)}
    if rolling > 1:
        result["rolling_strategy"] = {league: r["strategy"] for league, r in per_league.items()}
    _write(args.json, result)
    print(
        "\n".join(
            [track_record_table(per_league), "", *[track_record_sentence(r) for r in per_league.values()]]
        )
    )
    return 0


def track_record_table(per_league: dict[str, dict]) -> str:
    """One row per held-out league: the strategy against every comparison, same execution."""
    lines = [
        (
            "| held out | follow the report | hold chaos | hold divines | equal-weight basket | perfect foresight | "
            "max drawdown (daily) | hit rate | trades | chaos lost to spread and ticks | report from week 4 |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for league, result in per_league.items():
        s = result["strategy"]
        hit = "–" if s.get("hit_rate") is None else f"{s['hit_rate']:.0%}"
        lines.append(
            f"| {league} | {pct_text(s['return'])} | 0% | {pct_text(s.get('hold_divine_return'))} | "
            f"{pct_text(s.get('basket_return'))} | {pct_text(s.get('perfect_foresight_return'))} | "
            f"{pct_text(s['max_drawdown'], signed=False)} | {hit} | {len(s['trades'])} | "
            f"{s.get('cost_chaos', 0):,.0f} c | {pct_text(s.get('return_from_week_4'))} |"
        )
    return "\n".join(lines)


def forecasts_path(directory: Path, league: str, horizon: str) -> Path:
    return Path(directory) / f"{league}-{horizon}.parquet"


def save_forecasts(directory: Path, league: str, horizon: str, points) -> Path:
    """One held-out league × horizon's forecast points, for replaying the track record without retraining."""
    path = forecasts_path(directory, league, horizon)
    path.parent.mkdir(parents=True, exist_ok=True)
    points.write_parquet(path)
    return path


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(result), indent=1, allow_nan=False), encoding="utf-8")


def _finite(value: object) -> object:
    """Strict JSON: NaN (e.g. direction accuracy when nothing moved) becomes null; numpy scalars become floats."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table(result: dict) -> str:
    skipped = result.get("items_skipped") or {}
    lines = [
        (
            f"{result['test_league']} (profile {result['profile']}, trained on {len(result['train_leagues'])} leagues"
            f"; {len(skipped)} items skipped)"
        ),
        (
            "| horizon | items | relative MAE | MAPE | direction | n | items < 1.0 | no change (gated) | worst | "
            "coverage 80/95 | legacy rel. MAE | liquid rel. MAE |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for horizon in HORIZONS:
        if horizon not in result["horizons"]:
            continue
        h = result["horizons"][horizon]
        below = sum(1 for c in h["per_currency"].values() if c["rel_mae"] < 1.0)
        subsets = h.get("subsets", {})
        sub = {k: f"{subsets[k]['rel_mae']:.3f}" if k in subsets else "–" for k in ("legacy", "liquid")}
        lines.append(
            f"| {horizon} | {len(h['per_currency'])} | {h['rel_mae']:.3f} | {h['mape']:.2%} | "
            f"{h['direction_accuracy']:.1%} | {h['n']} | {below}/{len(h['per_currency'])} | "
            f"{len(h.get('gated_items', []))} | "
            f"{h.get('worst_item')} {h.get('worst_rel_mae', float('nan')):.3f} | "
            f"{h.get('coverage_80', float('nan')):.1%} / {h.get('coverage_95', float('nan')):.1%} | "
            f"{sub['legacy']} | {sub['liquid']} |"
        )
    if result.get("strategy"):  # the track record (core.evaluation.strategy)
        lines += ["", track_record_table({result["test_league"]: result}), "", track_record_sentence(result)]
    if "rolling" in result:
        r = result["rolling"]
        lines += [
            "",
            f"rolling average over {', '.join(r['leagues'])}",
            "| horizon | relative MAE | MAPE | direction |",
            "|---|---|---|---|",
        ]
        for horizon, h in r["horizons"].items():
            lines.append(
                f"| {horizon} | {h['rel_mae']:.3f} | {h['mape']:.2%} | {h['direction_accuracy']:.1%} |"
            )
    return "\n".join(lines)
