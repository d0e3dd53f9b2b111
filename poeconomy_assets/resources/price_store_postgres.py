"""The production price store on PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT."""

import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import dagster as dg
import polars as pl
import psycopg2
from psycopg2 import sql
from psycopg2.extras import execute_values

from poeconomy_assets.resources.price_store import (
    LAST_PAYLOAD_HASH,
    SNAPSHOT_COLUMNS,
    TABLES,
    PriceStore,
    as_utc,
)

_ENSURED: set[tuple[str, str]] = set()  # (url, schema) already migrated by this process
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Each version's statements run once, in order, in one transaction with the schema_version row they add.
# ``{s}`` is the schema, quoted as an identifier; values are never formatted in.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS {s}.snapshots (
            league TEXT NOT NULL, currency TEXT NOT NULL, category TEXT NOT NULL, item_id BIGINT,
            snapshot_at TIMESTAMPTZ NOT NULL, mean_chaos DOUBLE PRECISION NOT NULL CHECK (mean_chaos > 0),
            min_chaos DOUBLE PRECISION, max_chaos DOUBLE PRECISION, daily BIGINT,
            low_confidence BOOLEAN NOT NULL, payload_hash TEXT NOT NULL,
            PRIMARY KEY (league, currency, snapshot_at))""",
        """CREATE TABLE IF NOT EXISTS {s}.payloads (
            payload_id BIGSERIAL PRIMARY KEY, league TEXT NOT NULL, category TEXT NOT NULL,
            fetched_at TIMESTAMPTZ NOT NULL, content_hash TEXT NOT NULL, body_gzip BYTEA NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS payloads_latest ON {s}.payloads (league, category, payload_id DESC)",
        """CREATE TABLE IF NOT EXISTS {s}.daily_prices (
            league TEXT NOT NULL, currency TEXT NOT NULL, date DATE NOT NULL, league_day INTEGER NOT NULL,
            price_chaos DOUBLE PRECISION NOT NULL, price_divine DOUBLE PRECISION, confidence TEXT NOT NULL,
            source TEXT NOT NULL, PRIMARY KEY (league, currency, date))""",
    ],
    # read_snapshots filters one league by time and orders by (snapshot_at, currency).
    2: ["CREATE INDEX IF NOT EXISTS snapshots_by_time ON {s}.snapshots (league, snapshot_at, currency)"],
}
SCHEMA_VERSION = max(MIGRATIONS)


class PostgresPriceStore(PriceStore):
    """Price store in a PostgreSQL schema (``db_schema``), created on first use."""

    url: str  # a DSN, or dg.EnvVar("POECONOMY_PRICE_STORE_URL") so the UI never shows its password
    db_schema: str = "poeconomy"

    def _dsn(self) -> str:
        """The URL to connect to. Dagster resolves an EnvVar field inside a run; a store used directly (the
        demo's summary, a test) still holds the EnvVar, which is read here."""
        return self.url.get_value() if isinstance(self.url, dg.EnvVar) else self.url

    def _schema(self) -> sql.Identifier:
        if not _IDENTIFIER.match(self.db_schema):
            raise ValueError(f"db_schema {self.db_schema!r} must be a lower-case SQL identifier")
        return sql.Identifier(self.db_schema)

    def _q(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(s=self._schema())

    @contextmanager
    def _transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        connection = psycopg2.connect(self._dsn(), connect_timeout=10)
        try:
            with connection, connection.cursor() as cursor:  # commits on success, rolls back on error
                yield cursor
        finally:
            connection.close()

    def ensure_schema(self) -> None:
        if (self._dsn(), self.db_schema) in _ENSURED:
            return
        self._migrate()
        _ENSURED.add((self._dsn(), self.db_schema))

    def _migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Apply the migrations above the stored version, up to ``target``; returns the version reached."""
        with self._transaction() as cursor:
            # Concurrent first runs take turns: CREATE ... IF NOT EXISTS alone can still race in PostgreSQL.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"poeconomy-schema-{self.db_schema}",)
            )
            cursor.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            cursor.execute(
                self._q("CREATE TABLE IF NOT EXISTS {s}.schema_version (version INTEGER NOT NULL)")
            )
            cursor.execute(self._q("SELECT COALESCE(MAX(version), 0) FROM {s}.schema_version"))
            current = cursor.fetchone()[0]
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"schema {self.db_schema} has version {current}; this code knows {SCHEMA_VERSION}"
                )
            for version in range(current + 1, target + 1):
                for statement in MIGRATIONS[version]:
                    cursor.execute(self._q(statement))
                cursor.execute(self._q("INSERT INTO {s}.schema_version (version) VALUES (%s)"), (version,))
            return max(current, target)

    def schema_version(self) -> int:
        with self._transaction() as cursor:
            cursor.execute("SELECT to_regclass(%s)", (f'"{self._schema().string}".schema_version',))
            if cursor.fetchone()[0] is None:
                return 0
            cursor.execute(self._q("SELECT COALESCE(MAX(version), 0) FROM {s}.schema_version"))
            return cursor.fetchone()[0]

    def _insert_snapshots(
        self, rows: pl.DataFrame, before_commit: Callable[[], None] | None, payloads: Sequence[tuple] = ()
    ) -> int:
        buffer = io.BytesIO()
        rows.with_columns(pl.col("snapshot_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")).write_csv(
            buffer, include_header=False
        )
        buffer.seek(0)
        columns = sql.SQL(", ").join(map(sql.Identifier, SNAPSHOT_COLUMNS))
        with self._transaction() as cursor:
            for league, category, fetched_at, digest, body_gzip in payloads:  # archived only with the rows
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.db_schema}/{league}/{category}",)
                )
                cursor.execute(
                    self._q(
                        "INSERT INTO {s}.payloads (league, category, fetched_at, content_hash, body_gzip) "
                        "VALUES (%s, %s, %s, %s, %s)"
                    ),
                    (league, category, fetched_at, digest, psycopg2.Binary(body_gzip)),
                )
            cursor.execute(self._q("CREATE TEMP TABLE incoming (LIKE {s}.snapshots) ON COMMIT DROP"))
            cursor.copy_expert(
                sql.SQL("COPY incoming ({}) FROM STDIN WITH (FORMAT csv)").format(columns), buffer
            )
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {s}.snapshots ({c}) SELECT {c} FROM incoming ON CONFLICT DO NOTHING"
                ).format(s=self._schema(), c=columns)
            )
            inserted = cursor.rowcount
            if before_commit:
                before_commit()
        return inserted

    def _insert_payload(
        self, league: str, category: str, fetched_at: object, digest: str, body_gzip: bytes
    ) -> tuple[str | None, int]:
        with self._transaction() as cursor:
            # Two archivers of one (league, category) take turns, so each sees the other's hash.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.db_schema}/{league}/{category}",)
            )
            cursor.execute(self._dialect(LAST_PAYLOAD_HASH), (league, category))
            row = cursor.fetchone()
            cursor.execute(
                self._q(
                    "INSERT INTO {s}.payloads (league, category, fetched_at, content_hash, body_gzip) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING payload_id"
                ),
                (league, category, fetched_at, digest, psycopg2.Binary(body_gzip)),
            )
            return (row[0] if row else None), cursor.fetchone()[0]

    def _dialect(self, statement: str) -> sql.Composed:
        return sql.SQL(statement.replace("?", "%s")).format(
            **{table: sql.Identifier(self._schema().string, table) for table in TABLES}
        )

    def _fetch(self, statement: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._transaction() as cursor:
            cursor.execute(self._dialect(statement), params)
            return cursor.fetchall()

    def _timestamp(self, value: datetime, name: str) -> datetime:
        return as_utc(value, name)

    def _frame(self, rows: list[tuple], columns: dict[str, pl.DataType]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=list(columns.items()), orient="row")

    def _replace_daily(self, league: str, records: list[tuple]) -> None:
        with self._transaction() as cursor:
            cursor.execute(self._q("DELETE FROM {s}.daily_prices WHERE league = %s"), (league,))
            execute_values(
                cursor,
                self._q("INSERT INTO {s}.daily_prices VALUES %s").as_string(cursor),
                records,
                page_size=5000,
            )
