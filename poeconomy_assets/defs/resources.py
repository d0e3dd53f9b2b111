"""Resource instances: the one place that reads the environment.

Everything lives under ``POECONOMY_HOME`` (default ``.poeconomy/`` in the working directory):
``data/`` (asset Parquet files), ``models/``, ``reports/``, ``dumps/`` (the default dump directory),
``prices.sqlite`` (the embedded price store; ``POECONOMY_PRICE_STORE_URL`` switches it to PostgreSQL).
``POECONOMY_TRAINING_PROFILE`` (test, development, production) sets how hard the pooled searches work.
``POECONOMY_OPTUNA_STORAGE_URL`` (PostgreSQL) keeps the model search's Optuna studies there, shared by workers.
``POECONOMY_POE_WATCH_URL`` points the POE Watch client at another server (e.g. ``poeconomy serve-api``); when it
is set, the live-ingestion sensors start RUNNING by default, otherwise STOPPED, so a fresh ``dagster dev`` never
calls the internet on its own. ``POECONOMY_LIVE_CLOCK`` (JSON, the fields of ``LiveClock``) runs live ingestion on
a simulated clock, in step with a local server (demo and tests only; production uses the wall clock).
"""

import json
import os
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.ingest import SLOT_SECONDS
from poeconomy_assets.core.models import KEY_ENV, KEY_FILE_ENV
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.resources.live_leagues import LiveLeagues
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.resources.optuna_studies import OptunaStudies
from poeconomy_assets.resources.parquet_io_manager import ParquetIOManager
from poeconomy_assets.resources.poe_ninja_dumps import PoeNinjaDumps
from poeconomy_assets.resources.poe_watch import PoeWatchClient
from poeconomy_assets.resources.price_source import PriceSource
from poeconomy_assets.resources.price_store import PriceStore
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore
from poeconomy_assets.resources.report_store import ReportStore
from poeconomy_assets.resources.training_settings import TrainingSettings


def poeconomy_home() -> Path:
    return Path(os.environ.get("POECONOMY_HOME") or Path.cwd() / ".poeconomy").resolve()


POE_WATCH_URL = "https://api.poe.watch"


def poe_watch_url() -> str:
    return os.environ.get("POECONOMY_POE_WATCH_URL") or POE_WATCH_URL


def live_sensor_status() -> dg.DefaultSensorStatus:
    """RUNNING when a POE Watch URL was given explicitly (the live demo, a deployment), else STOPPED."""
    explicit = bool(os.environ.get("POECONOMY_POE_WATCH_URL"))
    return dg.DefaultSensorStatus.RUNNING if explicit else dg.DefaultSensorStatus.STOPPED


def live_clock_from_env() -> LiveClock:
    """The wall clock, unless ``POECONOMY_LIVE_CLOCK`` holds a simulated one, e.g.
    ``{"simulated_start": "2025-06-20T12:00:00Z", "wall_start": 1764430000.0, "speed": 60}`` (accelerated) or
    ``{"file": "/tmp/run/clock"}`` (stepped: the time written in that file)."""
    raw = os.environ.get("POECONOMY_LIVE_CLOCK")
    if not raw:
        return LiveClock()
    try:
        return LiveClock(**json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"POECONOMY_LIVE_CLOCK={raw!r} is not a LiveClock JSON object: {exc}") from exc


def price_store_from_env(home: Path) -> PriceStore:
    """PostgreSQL when ``POECONOMY_PRICE_STORE_URL`` is set (production), else SQLite under ``home``."""
    if os.environ.get("POECONOMY_PRICE_STORE_URL"):
        # EnvVar: the run config and the UI show the variable's name, never the URL and its password.
        return PostgresPriceStore(
            url=dg.EnvVar("POECONOMY_PRICE_STORE_URL"),
            db_schema=os.environ.get("POECONOMY_PRICE_STORE_SCHEMA", "poeconomy"),
        )
    return EmbeddedPriceStore(path=str(home / "prices.sqlite"))


def model_store_from_env(home: Path) -> ModelStore:
    """Models under ``home/models``, signed with ``POECONOMY_MODEL_SIGNING_KEY`` when set (an EnvVar: the UI shows
    its name, never the key), else with the key file ``POECONOMY_MODEL_SIGNING_KEY_FILE`` or ``home/model_signing.key``
    (outside the model folders; created on first use)."""
    return ModelStore(
        base_dir=str(home / "models"),
        signing_key=dg.EnvVar(KEY_ENV) if os.environ.get(KEY_ENV) else None,
        signing_key_file=os.environ.get(KEY_FILE_ENV) or None,
    )


def build_resources(
    home: Path | None = None,
    dumps_dir: Path | None = None,
    price_store: PriceStore | None = None,
    poe_watch: PriceSource | None = None,
) -> dict[str, object]:
    """Resources for one deployment. Defaults: the embedded store, Parquet files and folders under ``home``."""
    home = home or poeconomy_home()
    dumps = dumps_dir or Path(os.environ.get("POECONOMY_DUMPS_DIR") or home / "dumps")
    clock = live_clock_from_env()
    return {
        "price_store": price_store or price_store_from_env(home),
        "io_manager": ParquetIOManager(base_dir=str(home / "data")),
        "model_store": model_store_from_env(home),
        "optuna_studies": OptunaStudies(url=os.environ.get("POECONOMY_OPTUNA_STORAGE_URL", "")),
        "training_settings": TrainingSettings(profile=os.environ.get("POECONOMY_TRAINING_PROFILE") or "test"),
        "report_store": ReportStore(base_dir=str(home / "reports")),
        "poe_ninja_dumps": PoeNinjaDumps(directory=str(dumps)),
        # The breaker state lives in a file so every run process (and the sensors) shares it. An open breaker
        # holds off calls for one slot of the live clock, measured on it: 300 s on the wall clock, 15 s at 20x,
        # until a stepped clock has been moved 300 simulated seconds on.
        "poe_watch": poe_watch
        or PoeWatchClient(
            base_url=poe_watch_url(),
            breaker_state_path=str(home / "poe_watch_breaker.json"),
            breaker_cooldown_seconds=SLOT_SECONDS,
            breaker_clock=clock.settings_json(),
        ),
        "live_leagues": LiveLeagues(),
        "live_clock": clock,
    }
