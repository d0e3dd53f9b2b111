"""``poeconomy simulate``: write a simulated market as poe.ninja dump files."""

import argparse
import time
from pathlib import Path

from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("simulate", help="write simulated leagues as {League}.currency.csv dumps")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the dumps into")
    parser.add_argument("--leagues", type=int, default=6)
    parser.add_argument("--currencies", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    return parser


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    config = SimulationConfig(n_leagues=args.leagues, n_currencies=args.currencies, seed=args.seed)
    files = write_dumps(config, args.out)
    print(f"wrote {len(files)} league dumps to {args.out} in {time.perf_counter() - started:.1f}s")
    return 0
