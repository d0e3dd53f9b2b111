"""``poeconomy report``: print or write the latest investment report of a league."""

import argparse
import sys
from pathlib import Path

import polars as pl

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.report.safe_text import csv_safe_frame
from poeconomy_assets.defs.resources import poeconomy_home


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help="print or write a league's investment report")
    parser.add_argument("--league", required=True, help="league name, e.g. 'Settlers'")
    parser.add_argument("--format", choices=["html", "json", "csv"], default="csv")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    return parser


def run(args: argparse.Namespace) -> int:
    home = poeconomy_home()
    key = key_from_name(args.league)
    if args.format == "html":
        source = home / "reports" / f"{key}.html"
        if not source.exists():
            return _missing(args.league, source)
        text = source.read_text(encoding="utf-8")
    else:
        source = home / "data" / "investment_report" / f"{key}.parquet"
        if not source.exists():
            return _missing(args.league, source)
        ranking = pl.read_parquet(source)
        text = ranking.write_json() if args.format == "json" else csv_safe_frame(ranking).write_csv()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _missing(league: str, path: Path) -> int:
    print(f"no report for league {league!r} at {path}: materialize investment_report for it first "
          f"(make demo, or the UI)", file=sys.stderr)
    return 2
