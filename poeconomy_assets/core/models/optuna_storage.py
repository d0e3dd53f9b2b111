"""Where Optuna keeps studies: PostgreSQL when configured (several workers tune one study), else memory.

Optuna and Dagster both version their tables with alembic in a table named ``alembic_version``; in one
schema they break each other ("Can't locate revision"). Studies therefore live in their own schema.
"""

import re
from urllib.parse import quote

import optuna
import psycopg2

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def optuna_storage(url: str | None, schema: str = "optuna") -> optuna.storages.BaseStorage | None:
    """An RDB storage in ``schema`` of the PostgreSQL database at ``url``, or None (in-memory) without a URL.

    ``url`` may be ``postgresql://`` or ``postgresql+psycopg2://``; the schema and Optuna's tables are created
    on first use, safely when several workers start at once.
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
            return optuna.storages.RDBStorage(url=sqlalchemy_url, engine_kwargs={"pool_pre_ping": True})
    finally:
        lock.close()  # releases the advisory lock
