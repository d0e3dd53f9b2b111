"""Production mode: deploy/postgres/dagster.yaml loads and runs, and the whole graph works on PostgreSQL."""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import polars as pl
import psycopg2
import pytest

from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.selection import MAIN_GRAPH, PAST_LEAGUES
from poeconomy_assets.demo.in_process import materialize_in_process
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A new, empty database (Dagster's tables live in its public schema); dropped afterwards."""
    name = f"poeconomy_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    yield name
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def dagster_home(
    postgres_url: str, fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """DAGSTER_HOME holding a copy of deploy/postgres/dagster.yaml, its env vars set to the fresh database."""
    server = urlparse(postgres_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    for variable, value in {
        "DAGSTER_HOME": str(home),
        "POECONOMY_PG_HOST": server.hostname or "127.0.0.1",
        "POECONOMY_PG_PORT": str(server.port or 5432),
        "POECONOMY_PG_USER": server.username or "postgres",
        "POECONOMY_PG_PASSWORD": server.password or "",
        "POECONOMY_PG_DB": fresh_database,
        "POECONOMY_DAGSTER_STORAGE": str(tmp_path / "dagster_storage"),
    }.items():
        monkeypatch.setenv(variable, value)
    return home


@dg.asset(pool="poe_watch_api")
def tiny() -> int:
    """One number, so a run has a step, a materialization and compute logs."""
    return 1


def test_the_production_instance_loads_from_the_environment_and_runs(
    dagster_home: Path, tmp_path: Path
) -> None:
    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.freshness_enabled and not instance.telemetry_enabled
        assert instance.run_monitoring_enabled and instance.run_retries_enabled
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 4
        assert config.pool_config.default_pool_limit == 1
        # Per-pool limits are instance data, not yaml: what `dagster instance concurrency set training 2` does.
        instance.event_log_storage.set_concurrency_slots("training", 2)
        assert instance.event_log_storage.get_concurrency_info("training").slot_count == 2

        result = dg.materialize([tiny], instance=instance, resources={"io_manager": dg.mem_io_manager})
        assert result.success and instance.get_runs_count() == 1
        assert instance.get_latest_materialization_event(tiny.key) is not None
    finally:
        instance.dispose()
    # Nothing lands next to dagster.yaml (i.e. in the repo when DAGSTER_HOME=deploy/postgres).
    assert sorted(p.name for p in dagster_home.iterdir()) == ["dagster.yaml"]
    assert (tmp_path / "dagster_storage").is_dir()


def test_whole_graph_on_postgres(
    postgres_url: str, fresh_database: str, dagster_home: Path, tmp_path: Path
) -> None:
    store_url = urlparse(postgres_url)._replace(path=f"/{fresh_database}").geturl()
    store = PostgresPriceStore(url=store_url, db_schema="prices")
    write_dumps(
        SimulationConfig(n_leagues=3, n_currencies=3, seed=5, min_days=30, max_days=35), tmp_path / "dumps"
    )
    defs = build_defs(build_resources(tmp_path / "poeconomy", tmp_path / "dumps", price_store=store))

    instance = dg.DagsterInstance.get()
    try:
        outcome = materialize_in_process(defs, instance, PAST_LEAGUES | MAIN_GRAPH, log=lambda _: None)
        assert outcome.failed_checks == []
        assert instance.get_runs_count() == outcome.runs > 0  # every run is recorded in PostgreSQL
        assert len(instance.get_dynamic_partitions("league")) == 3
    finally:
        instance.dispose()
    stored = pl.concat([store.read_daily_prices(league) for league in store.leagues()])
    files = pl.concat(
        [pl.read_parquet(p) for p in (tmp_path / "poeconomy" / "data" / "daily_prices").glob("*.parquet")]
    )
    assert stored.height == files.height > 0
