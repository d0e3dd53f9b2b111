"""The ``poeconomy`` command. Each module in ``poeconomy_assets.commands`` that defines
``add_parser(subparsers)`` and ``run(args) -> int`` becomes a subcommand."""

import argparse
import importlib
import pkgutil
import sys
import warnings

import dagster as dg

from poeconomy_assets import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poeconomy", description="Path of Exile currency forecasts on Dagster."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "add_parser") and hasattr(module, "run"):
            sub = module.add_parser(subparsers)
            sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Dagster flags beta APIs on every import; a user of this command cannot act on that.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
