"""``poeconomy report``: print or write the latest investment report of a league (HTML, JSON or CSV).

It reads what the ``investment_report`` asset wrote through the report store (the same resource the graph
writes with, so the paths are never spelled twice). The JSON and CSV carry an envelope (league, as-of date,
divine rate, the decision) and the glossary; the CSV as ``#`` comment lines: read it with
``polars.read_csv(path, comment_prefix="#")`` or ``pandas.read_csv(path, comment="#")``.
"""

import argparse
import sys
from pathlib import Path

from poeconomy_assets.defs.resources import build_resources


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help="print or write a league's investment report")
    parser.add_argument("--league", required=True, help="league name, e.g. 'Settlers'")
    parser.add_argument("--format", choices=["html", "json", "csv"], default="csv")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    return parser


def run(args: argparse.Namespace) -> int:
    resources = build_resources()
    source = resources["report_store"].path(args.league, args.format)
    if not source.exists():
        return _missing(args.league, str(source))
    text = source.read_text(encoding="utf-8")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _missing(league: str, where: str) -> int:
    print(
        f"no report for league {league!r} ({where}): materialize investment_report for it first "
        f"(make demo, or the UI)",
        file=sys.stderr,
    )
    return 2
