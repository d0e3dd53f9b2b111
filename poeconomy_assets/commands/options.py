"""Command-line options several ``poeconomy`` subcommands share (a helper module, not a subcommand)."""

import argparse
from pathlib import Path

from poeconomy_assets.sim.simulator import SimulationConfig

# The keys of core.models.ensemble.PROFILES, spelled out so that building the parser does not import LightGBM
# and XGBoost (test_options checks they agree).
PROFILE_NAMES = ("test", "development", "production")


def add_market_options(parser: argparse.ArgumentParser, used_by: str = "") -> None:
    """--leagues, --currencies and --seed of the simulated market; ``used_by`` prefixes their help
    (e.g. ``demo: ``)."""
    parser.add_argument("--leagues", type=int, default=6, help=f"{used_by}simulated leagues (default 6)")
    parser.add_argument(
        "--currencies", type=int, default=10, help=f"{used_by}simulated currencies (default 10)"
    )
    parser.add_argument(
        "--seed", type=int, default=7, help=f"{used_by}seed of the simulated market (default 7)"
    )


def simulation_config(args: argparse.Namespace) -> SimulationConfig:
    """The simulated market that ``add_market_options``' options describe."""
    return SimulationConfig(n_leagues=args.leagues, n_currencies=args.currencies, seed=args.seed)


def add_profile_option(parser: argparse.ArgumentParser, default: str = "test") -> None:
    """--profile: how hard the model search works (core.models.ensemble.PROFILES)."""
    parser.add_argument(
        "--profile",
        default=default,
        choices=PROFILE_NAMES,
        help=f"model search: test (seconds), development (minutes), production (default {default})",
    )


def dumps_problem(dumps: Path) -> str | None:
    """What is wrong with a --dumps folder, in one line; None when it holds dump files."""
    if not dumps.exists():
        return f"the folder {dumps} does not exist (--dumps: a folder of poe.ninja {{League}}.currency.csv files)"
    if not dumps.is_dir():
        return (
            f"{dumps} is a file, not a folder (--dumps: a folder of poe.ninja {{League}}.currency.csv files)"
        )
    if not any(dumps.glob("*.csv")):
        return f"no poe.ninja dump files (*.csv) in {dumps}"
    return None
