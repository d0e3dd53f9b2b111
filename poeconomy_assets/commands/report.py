"""``poeconomy report``: print or write the latest investment report of a league.

It reads what the ``investment_report`` asset stored, through the same resources the graph writes with (the
report store for the HTML page, the IO manager for the ranking table), so the paths are never spelled twice.
"""

import argparse
import sys
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.defs.resources import build_resources

REPORT_ASSET = dg.AssetKey("investment_report")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help="print or write a league's investment report")
    parser.add_argument("--league", required=True, help="league name, e.g. 'Settlers'")
    parser.add_argument("--format", choices=["html", "json", "csv"], default="csv")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    return parser


def run(args: argparse.Namespace) -> int:
    resources = build_resources()
    if args.format == "html":
        source = resources["report_store"].path(args.league, "html")
        if not source.exists():
            return _missing(args.league, str(source))
        text = source.read_text(encoding="utf-8")
    else:
        try:
            ranking = resources["io_manager"].read(REPORT_ASSET, key_from_name(args.league))
        except FileNotFoundError as missing:
            return _missing(args.league, str(missing))
        text = ranking.write_json() if args.format == "json" else ranking.write_csv()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _missing(league: str, where: str) -> int:
    print(f"no report for league {league!r} ({where}): materialize investment_report for it first "
          f"(make demo, or the UI)", file=sys.stderr)
    return 2
