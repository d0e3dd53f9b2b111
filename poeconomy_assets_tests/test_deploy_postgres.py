"""Production mode: the whole graph with the Dagster instance and the price store on PostgreSQL."""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import polars as pl
import psycopg2
import pytest

from poeconomy_assets.core.simulator import SimulationConfig, write_dumps
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.graph_runner import materialize_graph
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore

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


def test_whole_graph_on_postgres(postgres_url: str, fresh_database: str, tmp_path: Path, monkeypatch) -> None:
    server = urlparse(postgres_url)
    for variable, value in {
        "POECONOMY_PG_HOST": server.hostname or "127.0.0.1",
        "POECONOMY_PG_PORT": str(server.port or 5432),
        "POECONOMY_PG_USER": server.username or "postgres",
        "POECONOMY_PG_PASSWORD": server.password or "",
        "POECONOMY_PG_DB": fresh_database,
    }.items():
        monkeypatch.setenv(variable, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    store_url = server._replace(path=f"/{fresh_database}").geturl()
    store = PostgresPriceStore(url=store_url, db_schema="prices")
    write_dumps(SimulationConfig(n_leagues=2, n_currencies=3, seed=5, min_days=30, max_days=35), tmp_path / "dumps")
    defs = build_defs(build_resources(tmp_path / "poeconomy", tmp_path / "dumps", price_store=store))

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        outcome = materialize_graph(defs, instance, {"ops": {"price_models": {"config": {"profile": "test"}}}}, log=lambda _: None)
        assert outcome.failed_checks == []
        assert instance.get_runs_count() == outcome.runs == 1 + 2 + 3 + 9 + 2
        assert sorted(instance.get_dynamic_partitions("league")) == sorted(outcome.leagues)
    finally:
        instance.dispose()
    stored = pl.concat([store.read_daily_prices(league) for league in store.leagues()])
    files = pl.concat([pl.read_parquet(p) for p in (tmp_path / "poeconomy" / "data" / "daily_prices").glob("*.parquet")])
    assert stored.height == files.height > 0
