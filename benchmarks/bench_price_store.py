"""Upsert throughput (rows/s) of the embedded (SQLite) and PostgreSQL price stores on the same input.

    .venv/bin/python benchmarks/bench_price_store.py [--rows 100000] [--postgres-url URL]

Each store starts empty in a throw-away place (a temp file; a fresh schema, dropped afterwards). Phases:
first insert of every row, then the same rows again (idempotent re-upsert: validation, transfer and
ON CONFLICT DO NOTHING, 0 rows inserted), then one read of the whole league.
"""

import argparse
import os
import tempfile
import time
import uuid

import polars as pl
import psycopg2

from poeconomy_assets.resources.price_store import PriceStore
from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore
from poeconomy_assets_tests.resources.store_workers import snapshot_rows


def measure(store: PriceStore, rows: pl.DataFrame) -> tuple[float, float, float]:
    """rows/s of: first insert, idempotent re-upsert, full read."""
    store.ensure_schema()
    started = time.perf_counter()
    inserted = store.upsert_snapshots(rows)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = store.upsert_snapshots(rows)
    second = time.perf_counter() - started
    started = time.perf_counter()
    read = store.read_snapshots(rows["league"][0])
    reading = time.perf_counter() - started
    assert inserted == rows.height == read.height and again == 0, (inserted, again, read.height)
    return rows.height / first, rows.height / second, rows.height / reading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    currencies = 1000
    slots = max(1, args.rows // currencies)
    rows = snapshot_rows(currencies, slots=slots)  # 1,000 currencies × N 5-minute slots
    with psycopg2.connect(args.postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0].split()[0]
    connection.close()
    print(f"{rows.height:,} snapshot rows (1,000 currencies × {slots} slots), {os.cpu_count()} CPUs\n")
    print(
        "| store | first insert (rows/s) | idempotent re-upsert (rows/s) | read (rows/s) |\n|---|---:|---:|---:|"
    )
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(EmbeddedPriceStore(path=f"{tmp}/prices.sqlite"), rows)
        print("| embedded (SQLite, WAL, executemany) | {:,.0f} | {:,.0f} | {:,.0f} |".format(*figures))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        figures = measure(PostgresPriceStore(url=args.postgres_url, db_schema=schema), rows)
        print(
            f"| PostgreSQL {server} (COPY + INSERT … ON CONFLICT) | {{:,.0f}} | {{:,.0f}} | {{:,.0f}} |".format(
                *figures
            )
        )
    finally:
        with psycopg2.connect(args.postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.close()


if __name__ == "__main__":
    main()
