"""Upsert throughput (rows/s) of the embedded (SQLite) and PostgreSQL price stores on the same input.

    .venv/bin/python benchmarks/bench_price_store.py [--rows 100000] [--postgres-url URL]
"""

import argparse
import tempfile
import time
import uuid

import psycopg2

from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore
from poeconomy_assets_tests.resources.store_workers import snapshot_rows


def measure(store, rows) -> tuple[float, float]:
    store.ensure_schema()
    started = time.perf_counter()
    inserted = store.upsert_snapshots(rows)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = store.upsert_snapshots(rows)
    second = time.perf_counter() - started
    assert inserted == rows.height and again == 0, (inserted, again)
    return rows.height / first, rows.height / second


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    currencies = 1000
    rows = snapshot_rows(currencies, slots=args.rows // currencies)  # 1,000 currencies × N 5-minute slots
    print(f"{rows.height:,} snapshot rows (1,000 currencies × {args.rows // currencies} slots)\n")
    print("| store | first insert (rows/s) | idempotent re-upsert (rows/s) |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        first, again = measure(EmbeddedPriceStore(path=f"{tmp}/prices.sqlite"), rows)
        print(f"| embedded (SQLite, WAL) | {first:,.0f} | {again:,.0f} |")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        first, again = measure(PostgresPriceStore(url=args.postgres_url, db_schema=schema), rows)
        print(f"| PostgreSQL 15 (COPY + INSERT … ON CONFLICT) | {first:,.0f} | {again:,.0f} |")
    finally:
        with psycopg2.connect(args.postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
