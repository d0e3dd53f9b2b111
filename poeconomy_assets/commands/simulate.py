"""``poeconomy simulate``: write a simulated market as poe.ninja dump files."""

import argparse
import time
from pathlib import Path

from poeconomy_assets.commands.options import add_market_options, simulation_config
from poeconomy_assets.sim.simulator import write_dumps


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("simulate", help="write simulated leagues as {League}.currency.csv dumps")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the dumps into")
    add_market_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    files = write_dumps(simulation_config(args), args.out)
    print(f"wrote {len(files)} league dumps to {args.out} in {time.perf_counter() - started:.1f}s")
    return 0
