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
    """An RDB storage in ``schema`` of the PostgreSQL database at ``url``, or None for in-memory."""
    if not url:
        return None
    if not _SCHEMA.match(schema):
        raise ValueError(f"schema {schema!r} must be a lower-case SQL identifier")
    plain = url.replace("postgresql+psycopg2://", "postgresql://", 1)
    with psycopg2.connect(plain) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    connection.close()
    separator = "&" if "?" in plain else "?"
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which is not installed.
    sqlalchemy_url = "postgresql+psycopg2://" + plain.removeprefix("postgresql://")
    sqlalchemy_url += f"{separator}options={quote(f'-csearch_path={schema}')}"
    return optuna.storages.RDBStorage(url=sqlalchemy_url, engine_kwargs={"pool_pre_ping": True})
