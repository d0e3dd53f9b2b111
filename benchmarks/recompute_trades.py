"""Recompute a track record's trades from the raw poe.ninja dump, without the project's code (issue 20).

    .venv/bin/python benchmarks/recompute_trades.py --dumps ../shared/data/poe-ninja \
        benchmarks/track-record/Affliction-trades.json [more files]

Reads each ``{League}.currency.csv`` with the csv module only and, for every trade of the file's
``strategy.trades`` (or a bare list), re-derives from the raw rows:

- the entry day's ask (the row Get = item, Pay = Chaos Orb: Value chaos per unit) and bid (the row Get = Chaos
  Orb, Pay = item: 1 / Value), both confidences, and the entry price the rules give (the ask ticked up to
  whole chaos, or to whole units per chaos below one chaos; the higher side on a crossed quote);
- the exit day's quote, and checks the exit price is never above that day's bid (nor its ask);
- the return: Σ units × (exit − entry) / budget.

Prints one line per file and exits 1 on any mismatch. The fallback spreads (days with a missing bid) are not
re-derived; such exits are only checked against the quotes' upper bounds.
"""

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

CHAOS = "Chaos Orb"


def raw_quotes(path: Path) -> dict:
    """(item, date) → {"ask", "ask_confidence", "bid", "bid_confidence"} from the raw file."""
    quotes: dict = defaultdict(dict)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            value = float(row["Value"])
            if value <= 0:
                continue
            if row["Pay"] == CHAOS and row["Get"] != CHAOS:
                quotes[(row["Get"], row["Date"])].update(ask=value, ask_confidence=row["Confidence"])
            elif row["Get"] == CHAOS and row["Pay"] != CHAOS:
                quotes[(row["Pay"], row["Date"])].update(bid=1.0 / value, bid_confidence=row["Confidence"])
    return quotes


def ticked_buy(price: float) -> float:
    return float(math.ceil(price - 1e-9)) if price >= 1 else 1.0 / math.floor(1.0 / price + 1e-9)


def check(trades: list[dict], quotes: dict, budget: float, reported: float | None) -> list[str]:
    problems = []
    for t in trades:
        entry = quotes.get((t["item"], t["entry_date"]), {})
        label = f"{t['item']} {t['entry_date']}"
        if entry.get("ask_confidence") != "High" or entry.get("bid_confidence") != "High":
            problems.append(f"{label}: entry day not both sides High ({entry})")
            continue
        expected = ticked_buy(max(entry["ask"], entry["bid"]))
        if abs(expected - t["entry_price"]) > 1e-9 * max(1.0, expected):
            problems.append(f"{label}: entry {t['entry_price']} but the raw quote gives {expected}")
        if t["entry_price"] < entry["ask"] - 1e-9:
            problems.append(f"{label}: bought below that day's ask {entry['ask']}")
        exit_quote = quotes.get((t["item"], t["exit_date"]), {})
        ceiling = min(
            [v for v in (exit_quote.get("bid"), exit_quote.get("ask")) if v is not None], default=0.0
        )
        if t["exit_price"] > ceiling + 1e-9:
            problems.append(f"{label}: sold at {t['exit_price']} above the exit day's quotes {exit_quote}")
        if t["units"] != int(t["units"]) or t["units"] < 1:
            problems.append(f"{label}: {t['units']} is not a whole number of units")
    total = sum(t["units"] * (t["exit_price"] - t["entry_price"]) for t in trades) / budget
    if reported is not None and abs(total - reported) > 1e-9:
        problems.append(f"reported return {reported} but the trades add up to {total}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, required=True)
    parser.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args()
    failed = False
    for path in args.files:
        document = json.loads(path.read_text(encoding="utf-8"))
        strategy = document.get("strategy", document)
        league = document.get("test_league") or path.name.split("-")[0]
        quotes = raw_quotes(args.dumps / f"{league}.currency.csv")
        trades = strategy["trades"]
        budget = strategy.get("budget_chaos", 1000.0)
        problems = check(trades, quotes, budget, strategy.get("return"))
        total = sum(t["units"] * (t["exit_price"] - t["entry_price"]) for t in trades) / budget
        print(
            f"{league}: {len(trades)} trades, recomputed return {100 * total:+.2f}% "
            f"(reported {100 * strategy.get('return', float('nan')):+.2f}%): "
            + ("OK" if not problems else f"{len(problems)} problems")
        )
        for problem in problems[:20]:
            print("  " + problem)
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
