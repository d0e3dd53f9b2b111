"""``poeconomy report``: print or write the latest investment report of a league (HTML, JSON or CSV).

The CSV starts with ``#`` comment lines (league, as-of date, divine rate, the decision, the glossary): read it
with ``polars.read_csv(path, comment_prefix="#")`` or ``pandas.read_csv(path, comment="#")``."""

import argparse
import sys
from pathlib import Path

from poeconomy_assets.core.keys import key_from_name
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
    # investment_report writes all three beside each other: the page, and the data with its envelope (league,
    # as-of date, divine rate, decision, glossary; the CSV carries them as "#" comment lines).
    source = home / "reports" / f"{key}.{args.format}"
    if not source.exists():
        return _missing(args.league, source)
    text = source.read_text(encoding="utf-8")
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
