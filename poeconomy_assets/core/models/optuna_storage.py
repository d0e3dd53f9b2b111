"""Where Optuna keeps studies: PostgreSQL when configured (several workers tune one study), else memory.

Optuna and Dagster both version their tables with alembic in a table named ``alembic_version``; in one
schema they break each other ("Can't locate revision"). Studies therefore live in their own schema.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import optuna
import psycopg2
import sqlalchemy

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
HEARTBEAT_SECONDS = 5  # a running trial's process proves it is alive this often
GRACE_SECONDS = 20  # ... and a trial without a heartbeat this long is failed and queued again


def optuna_storage(
    url: str | None,
    schema: str = "optuna",
    heartbeat_seconds: int = HEARTBEAT_SECONDS,
    grace_seconds: int = GRACE_SECONDS,
) -> optuna.storages.BaseStorage | None:
    """An RDB storage in ``schema`` of the PostgreSQL database at ``url``, or None (in-memory) without a URL.

    ``url`` may be ``postgresql://`` or ``postgresql+psycopg2://``; the schema and Optuna's tables are created
    on first use, safely when several workers start at once. Trials carry a heartbeat: one whose process
    died (a lost worker) is failed after ``grace_seconds`` and queued again with the same parameters.
    """
    if not url:
        return None
    if not _SCHEMA.match(schema):
        raise ValueError(f"schema {schema!r} must be a lower-case SQL identifier")
    plain = url.replace("postgresql+psycopg2://", "postgresql://", 1)
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which is not installed.
    sqlalchemy_url = "postgresql+psycopg2://" + plain.removeprefix("postgresql://")
    sqlalchemy_url += f"{'&' if '?' in plain else '?'}options={quote(f'-csearch_path={schema}')}"
    # Workers starting together race on CREATE SCHEMA and on Optuna's create_all + alembic stamp (both fail
    # with duplicate-key errors); a session advisory lock makes them take turns.
    lock = psycopg2.connect(plain)
    try:
        lock.autocommit = True
        with lock.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"poeconomy-optuna-{schema}",))
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')  # schema matched _SCHEMA above
            return optuna.storages.RDBStorage(
                url=sqlalchemy_url,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=heartbeat_seconds,
                grace_period=grace_seconds,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
    finally:
        lock.close()  # releases the advisory lock


@contextmanager
def study_lock(storage: optuna.storages.BaseStorage, study_name: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock named after the study while planning it (one planner at a time)."""
    if not isinstance(storage, optuna.storages.RDBStorage) or storage.engine.dialect.name != "postgresql":
        raise TypeError("a shared search needs the PostgreSQL RDB storage from optuna_storage(url)")
    with storage.engine.connect() as connection:
        key = f"poeconomy-study-{study_name}"
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": key})
        try:
            yield
        finally:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": key})
            connection.commit()
