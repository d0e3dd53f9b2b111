"""Price stores of both kinds, each in a fresh place that is removed afterwards."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from poeconomy_assets.resources.price_store import PriceStore
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[PostgresPriceStore]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield PostgresPriceStore(url=postgres_url, db_schema=schema)
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    connection.close()


@pytest.fixture
def embedded_store(tmp_path: Path) -> EmbeddedPriceStore:
    return EmbeddedPriceStore(path=str(tmp_path / "prices.sqlite"))


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def price_store(request: pytest.FixtureRequest) -> PriceStore:
    return request.getfixturevalue(f"{request.param}_store")
