"""Resource instances: the one place that reads the environment.

Everything lives under ``POECONOMY_HOME`` (default ``.poeconomy/`` in the working directory):
``data/`` (asset Parquet files), ``models/``, ``reports/``, ``dumps/`` (the default dump directory),
``prices.sqlite`` (the embedded price store; ``POECONOMY_PRICE_STORE_URL`` switches it to PostgreSQL).
"""

import os
from pathlib import Path

from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.resources.parquet_io_manager import ParquetIOManager
from poeconomy_assets.resources.poe_ninja_dumps import PoeNinjaDumps
from poeconomy_assets.resources.price_store import PriceStore
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore
from poeconomy_assets.resources.report_store import ReportStore


def poeconomy_home() -> Path:
    return Path(os.environ.get("POECONOMY_HOME") or Path.cwd() / ".poeconomy").resolve()


def price_store_from_env(home: Path) -> PriceStore:
    """PostgreSQL when ``POECONOMY_PRICE_STORE_URL`` is set (production), else SQLite under ``home``."""
    url = os.environ.get("POECONOMY_PRICE_STORE_URL")
    if url:
        return PostgresPriceStore(url=url, db_schema=os.environ.get("POECONOMY_PRICE_STORE_SCHEMA", "poeconomy"))
    return EmbeddedPriceStore(path=str(home / "prices.sqlite"))


def build_resources(
    home: Path | None = None, dumps_dir: Path | None = None, price_store: PriceStore | None = None
) -> dict[str, object]:
    """Resources for one deployment. Defaults: the embedded store, Parquet files and folders under ``home``."""
    home = home or poeconomy_home()
    dumps = dumps_dir or Path(os.environ.get("POECONOMY_DUMPS_DIR") or home / "dumps")
    return {
        "price_store": price_store or price_store_from_env(home),
        "io_manager": ParquetIOManager(base_dir=str(home / "data")),
        "model_store": ModelStore(base_dir=str(home / "models")),
        "report_store": ReportStore(base_dir=str(home / "reports")),
        "poe_ninja_dumps": PoeNinjaDumps(directory=str(dumps)),
    }
