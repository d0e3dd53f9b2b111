"""Forecast accuracy against persistence on leagues the models never saw (the issue-5 scorecard).

    nice -n 10 .venv/bin/python benchmarks/bench_backtest.py [--profile development] [--rolling 7]
        [--test-league Ultimatum] [--json OUT]

Runs exactly what ``poeconomy backtest --dumps ../shared/data/poe-ninja --test-league Ultimatum
--profile development --rolling 7 --json OUT`` runs, then prints the tables against the targets:
Relative MAE (model MAE / persistence MAE, the JSON's ``mase``) <= 0.88 / 0.82 / 0.80 at 1d / 3d / 7d, direction >= 70% at 3d and 7d, >= 11 of 13 currencies
below 1.0 and none above 1.10 at every horizon, rolling average relative MAE <= 0.90 at every horizon.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from poeconomy_assets.commands import backtest as command
from poeconomy_assets.core.evaluation.backtest import average_scorecards

ROOT = Path(__file__).resolve().parents[1]
MASE_TARGETS = {"1d": 0.88, "3d": 0.82, "7d": 0.80}


def report(result: dict) -> str:
    lines = [f"## {result['test_league']} held out (profile {result['profile']})", "",
             "| horizon | relative MAE (target) | MAPE | direction (target) | n | currencies < 1.0 | currencies > 1.10 |",
             "|---|---|---|---|---|---|---|"]
    for h, card in result["horizons"].items():
        per = card["per_currency"].values()
        below = sum(1 for c in per if c["mase"] < 1.0)
        above = sum(1 for c in per if c["mase"] > 1.10)
        direction_target = " (>= 70%)" if h in ("3d", "7d") else ""
        lines.append(f"| {h} | {card['mase']:.3f} (<= {MASE_TARGETS[h]}) | {card['mape']:.2%} | "
                     f"{card['direction_accuracy']:.1%}{direction_target} | {card['n']} | {below}/{len(card['per_currency'])} "
                     f"| {above} |")
    names = sorted(next(iter(result["horizons"].values()))["per_currency"])
    lines += ["", "| currency | " + " | ".join(f"relative MAE {h}" for h in result["horizons"]) + " |",
              "|---|" + "---|" * len(result["horizons"])]
    for name in names:
        cells = [f"{result['horizons'][h]['per_currency'].get(name, {}).get('mase', float('nan')):.3f}"
                 for h in result["horizons"]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if "rolling" in result:
        rolling = result["rolling"]
        lines += ["", f"## Rolling: each of {', '.join(rolling['leagues'])} held out in turn (average)", "",
                  "| horizon | mean relative MAE (target <= 0.90) | mean MAPE | mean direction | per league |", "|---|---|---|---|---|"]
        for h, card in rolling["horizons"].items():
            per_league = ", ".join(f"{k} {v:.3f}" for k, v in card["per_league_mase"].items())
            lines.append(f"| {h} | {card['mase']:.3f} | {card['mape']:.2%} | {card['direction_accuracy']:.1%} | "
                         f"{per_league} |")
    return "\n".join(lines)


def with_rolling_from(result: dict, singles: list[dict], n_leagues: int) -> dict:
    """The rolling average from every league scorecard at hand: the --json run's own (finished rolling,
    or its ``rolling_partial`` if it stopped early) and single-league runs. Each league is trained only
    on the leagues before it either way, so where a league was scored came from does not matter."""
    per_league = {result["test_league"]: {k: result[k] for k in ("test_league", "train_leagues", "horizons")}}
    per_league |= (result.get("rolling") or {}).get("per_league") or result.get("rolling_partial") or {}
    per_league |= {r["test_league"]: r for r in singles}
    order = sorted(per_league, key=lambda league: len(per_league[league]["train_leagues"]))[-n_leagues:]
    rolling = {"leagues": order, "per_league": {k: per_league[k] for k in order},
               "horizons": average_scorecards([per_league[k] for k in order])}
    return {**result, "rolling": rolling}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, default=ROOT.parent / "shared" / "data" / "poe-ninja")
    parser.add_argument("--test-league", default="Ultimatum")
    parser.add_argument("--profile", default="development")
    parser.add_argument("--rolling", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="reuse (if present) or write the scorecard here")
    parser.add_argument("--league-json", type=Path, nargs="*", default=[],
                        help="single-league scorecards (poeconomy backtest --test-league L --json F) run in other "
                             "processes: they fill in rolling leagues the --json run has not reached")
    args = parser.parse_args()
    out = args.json or Path(tempfile.mkdtemp()) / "backtest.json"
    started = time.perf_counter()
    if not (args.json and args.json.exists()):
        namespace = argparse.Namespace(dumps=args.dumps, test_league=args.test_league, profile=args.profile, json=out,
                                       rolling=args.rolling, seed=0, currencies=None, horizons="1d,3d,7d", quiet=True)
        command.run(namespace)
    result = json.loads(out.read_text())
    if args.league_json:
        result = with_rolling_from(result, [json.loads(p.read_text()) for p in args.league_json], args.rolling)
    print(report(result))
    print(f"\nwall time: {result.get('seconds', time.perf_counter() - started):.0f}s")


if __name__ == "__main__":
    main()
