"""What only the PostgreSQL store can get wrong: sessions, server-side locks, identifiers, the bulk path.

The shared contract (round trip, bad input, injection, concurrency, SIGKILL) is in test_price_store.py.
"""

import multiprocessing
import os
import signal
import time
from urllib.parse import quote

import polars as pl
import psycopg2
import pytest

from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore

from .store_workers import SLOT, snapshot_rows

pytestmark = pytest.mark.postgres


def upsert_two_slots(url: str, schema: str, n: int) -> int:
    """Child process: one plain upsert (no test hook) of ``n`` currencies × 2 slots."""
    return PostgresPriceStore(url=url, db_schema=schema).upsert_snapshots(snapshot_rows(n, slots=2))


def _with_session_timezone(url: str, zone: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-c timezone={zone}')}"


def test_timestamps_do_not_depend_on_the_session_timezone(postgres_store: PostgresPriceStore) -> None:
    rows = snapshot_rows(20, slots=3)
    new_york = PostgresPriceStore(
        url=_with_session_timezone(postgres_store.url, "America/New_York"), db_schema=postgres_store.db_schema
    )
    assert new_york.upsert_snapshots(rows) == 60
    with psycopg2.connect(new_york.url) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW timezone")
        assert cursor.fetchone()[0] == "America/New_York", "the session really is not UTC"
    connection.close()
    for store in (new_york, postgres_store):
        assert store.read_snapshots("Settlers").equals(rows.sort("snapshot_at", "currency"))
        first_slot = store.read_snapshots("Settlers", start=SLOT, end=SLOT.replace(minute=5))
        assert first_slot["snapshot_at"].unique().to_list() == [SLOT]


def _backend_waiting_on_a_lock(url: str, schema: str) -> int | None:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            (f'INSERT INTO "{schema}".snapshots%',),
        )
        row = cursor.fetchone()
    connection.close()
    return row[0] if row else None


def test_a_run_killed_inside_the_insert_statement_leaves_nothing(postgres_store: PostgresPriceStore) -> None:
    """No test hook: the child is SIGKILLed while its INSERT … SELECT waits on a row lock we hold.

    The server only learns the client is gone after the statement finishes; it must then roll back,
    because COMMIT never came."""
    url, schema = postgres_store.url, postgres_store.db_schema
    postgres_store.upsert_snapshots(snapshot_rows(500))
    before = postgres_store.read_snapshots("Settlers")
    blocker = psycopg2.connect(url)  # holds one of the child's keys, uncommitted, so the child's INSERT waits
    with blocker.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{schema}".snapshots SELECT league, currency, category, item_id, '
            f"snapshot_at + interval '5 minutes', mean_chaos, min_chaos, max_chaos, daily, low_confidence, "
            f'payload_hash FROM "{schema}".snapshots WHERE currency = %s',
            ("Currency 499",),
        )
    child = multiprocessing.get_context("spawn").Process(target=upsert_two_slots, args=(url, schema, 500))
    child.start()
    try:
        deadline, backend = time.time() + 60, None
        while backend is None and time.time() < deadline and child.is_alive():
            time.sleep(0.05)
            backend = _backend_waiting_on_a_lock(url, schema)
        assert backend is not None, "the child never got inside its INSERT"
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
    finally:
        blocker.rollback()  # the child's statement now runs to its end, then finds no client, then rolls back
        blocker.close()
    deadline = time.time() + 30
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        while time.time() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,))
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"backend {backend} of the killed child never went away")
    connection.close()
    assert postgres_store.read_snapshots("Settlers").equals(before), "nothing of the killed run survives"
    assert postgres_store.upsert_snapshots(snapshot_rows(500, slots=2)) == 500, (
        "the next run adds the missing slot"
    )


@pytest.mark.parametrize("schema", ['x"; DROP SCHEMA public CASCADE; --', "Prices", "1st", "a" * 64, ""])
def test_db_schema_must_be_a_plain_identifier(postgres_url: str, schema: str) -> None:
    with pytest.raises(ValueError, match="must be a lower-case SQL identifier"):
        PostgresPriceStore(url=postgres_url, db_schema=schema).ensure_schema()


def test_the_database_refuses_what_validation_would(postgres_store: PostgresPriceStore) -> None:
    """A CHECK and NOT NULLs back the Python validation, for writers that bypass this class."""
    postgres_store.ensure_schema()
    with (
        psycopg2.connect(postgres_store.url) as connection,
        connection.cursor() as cursor,
        pytest.raises(psycopg2.errors.CheckViolation),
    ):
        cursor.execute(
            f'INSERT INTO "{postgres_store.db_schema}".snapshots VALUES '
            "('L', 'C', 'currency', 1, now(), -1, NULL, NULL, NULL, false, 'h')"
        )
    connection.close()
    assert postgres_store.count_snapshots() == 0


def test_a_large_batch_goes_through_the_bulk_path_intact(postgres_store: PostgresPriceStore) -> None:
    """50k rows (COPY into a temp table, then one INSERT … ON CONFLICT) come back exactly, floats included."""
    rows = snapshot_rows(1000, slots=50).with_columns(pl.col("mean_chaos") + 1 / 3)
    started = time.perf_counter()
    assert postgres_store.upsert_snapshots(rows) == 50_000
    assert time.perf_counter() - started < 20
    assert postgres_store.read_snapshots("Settlers").equals(rows.sort("snapshot_at", "currency"))
