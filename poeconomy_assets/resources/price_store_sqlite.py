"""The embedded price store: one SQLite file, no server (WAL mode, one transaction per write)."""

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import polars as pl

from poeconomy_assets.resources.price_store import (
    DAILY_COLUMNS,
    LAST_PAYLOAD_HASH,
    SNAPSHOT_COLUMNS,
    TABLES,
    PriceStore,
    as_utc,
    snapshot_records,
)

# Each version's statements run once, in order, in one transaction with the schema_version row they add.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS snapshots (
            league TEXT NOT NULL, currency TEXT NOT NULL, category TEXT NOT NULL, item_id INTEGER,
            snapshot_at TEXT NOT NULL, mean_chaos REAL NOT NULL, min_chaos REAL, max_chaos REAL, daily INTEGER,
            low_confidence INTEGER NOT NULL, payload_hash TEXT NOT NULL,
            PRIMARY KEY (league, currency, snapshot_at))""",
        """CREATE TABLE IF NOT EXISTS payloads (
            payload_id INTEGER PRIMARY KEY AUTOINCREMENT, league TEXT NOT NULL, category TEXT NOT NULL,
            fetched_at TEXT NOT NULL, content_hash TEXT NOT NULL, body_gzip BLOB NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS payloads_latest ON payloads (league, category, payload_id)",
        """CREATE TABLE IF NOT EXISTS daily_prices (
            league TEXT NOT NULL, currency TEXT NOT NULL, date TEXT NOT NULL, league_day INTEGER NOT NULL,
            price_chaos REAL NOT NULL, price_divine REAL, confidence TEXT NOT NULL, source TEXT NOT NULL,
            PRIMARY KEY (league, currency, date))""",
    ],
    # read_snapshots filters one league by time and orders by (snapshot_at, currency).
    2: ["CREATE INDEX IF NOT EXISTS snapshots_by_time ON snapshots (league, snapshot_at, currency)"],
}
SCHEMA_VERSION = max(MIGRATIONS)
BUSY_TIMEOUT_S = 30  # how long a writer waits for another one's transaction
_ENSURED: set[str] = set()  # files whose tables this process already created


def _iso(value: datetime, name: str = "snapshot_at") -> str:
    # Fixed-width UTC text sorts in time order, so SQLite compares timestamps as strings.
    return as_utc(value, name).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _enable_wal(connection: sqlite3.Connection) -> None:
    """WAL (readers never block the writer) is stored in the file, so this runs once per new file.

    Two processes opening a new file at once: one switch fails with "database is locked" at once, without
    waiting for the busy timeout, so retry until the other one has finished."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class EmbeddedPriceStore(PriceStore):
    """Price store in a SQLite file (created with its folder on first use)."""

    path: str

    def _sqlite_connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = self._sqlite_connect()
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                _enable_wal(connection)
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def ensure_schema(self) -> None:
        if self.path in _ENSURED and Path(self.path).exists():
            return
        self._migrate()
        _ENSURED.add(self.path)

    def _migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Apply the migrations above the stored version, up to ``target``; returns the version reached."""
        with self._transaction() as connection:  # BEGIN IMMEDIATE: concurrent first runs take turns
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {current}; this code knows {SCHEMA_VERSION}"
                )
            for version in range(current + 1, target + 1):
                for statement in MIGRATIONS[version]:
                    connection.execute(statement)
                connection.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            return max(current, target)

    def schema_version(self) -> int:
        with self._connect() as connection:
            if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone():
                return 0
            return connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]

    def _insert_snapshots(
        self, rows: pl.DataFrame, before_commit: Callable[[], None] | None, payloads: Sequence[tuple] = ()
    ) -> int:
        records = [(*r[:4], _iso(r[4]), *r[5:9], int(r[9]), r[10]) for r in snapshot_records(rows)]
        placeholders = ", ".join("?" * len(SNAPSHOT_COLUMNS))
        with self._transaction() as connection:
            connection.executemany(
                "INSERT INTO payloads (league, category, fetched_at, content_hash, body_gzip) VALUES (?, ?, ?, ?, ?)",
                payloads,
            )
            before = connection.total_changes
            if records:
                connection.executemany(
                    f"INSERT INTO snapshots ({', '.join(SNAPSHOT_COLUMNS)}) VALUES ({placeholders}) "
                    "ON CONFLICT DO NOTHING",
                    records,
                )
            inserted = connection.total_changes - before
            if before_commit:
                before_commit()
        return inserted

    def _insert_payload(
        self, league: str, category: str, fetched_at: object, digest: str, body_gzip: bytes
    ) -> tuple[str | None, int]:
        with self._transaction() as connection:  # BEGIN IMMEDIATE: archivers take turns
            row = connection.execute(self._dialect(LAST_PAYLOAD_HASH), (league, category)).fetchone()
            cursor = connection.execute(
                "INSERT INTO payloads (league, category, fetched_at, content_hash, body_gzip) VALUES (?, ?, ?, ?, ?)",
                (league, category, fetched_at, digest, body_gzip),
            )
            return (row[0] if row else None), int(cursor.lastrowid or 0)

    @staticmethod
    def _dialect(statement: str) -> str:
        return statement.format(**{table: table for table in TABLES})

    def _fetch(self, statement: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._connect() as connection:
            return connection.execute(self._dialect(statement), params).fetchall()

    def _timestamp(self, value: datetime, name: str) -> str:
        return _iso(value, name)  # stored as ISO text, which sorts as time does

    def _frame(self, rows: list[tuple], columns: dict[str, pl.DataType]) -> pl.DataFrame:
        """Dates and times come back as the ISO text they were stored as: parsed here."""
        text = {c for c, t in columns.items() if t in (pl.Date, pl.Datetime)}
        frame = pl.DataFrame(
            rows, schema=[(c, pl.Utf8 if c in text else t) for c, t in columns.items()], orient="row"
        )
        return frame.with_columns(
            pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC")
            if columns[c] == pl.Datetime
            else pl.col(c).str.to_date()
            for c in text
        )

    def _replace_daily(self, league: str, records: list[tuple]) -> None:
        records = [(*r[:2], r[2].isoformat(), *r[3:]) for r in records]  # dates as ISO text
        with self._transaction() as connection:
            connection.execute("DELETE FROM daily_prices WHERE league = ?", (league,))
            connection.executemany(
                f"INSERT INTO daily_prices VALUES ({', '.join('?' * len(DAILY_COLUMNS))})", records
            )
