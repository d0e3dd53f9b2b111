"""A throw-away Celery deployment on this machine (tests and benchmarks): a fresh PostgreSQL database for
the instance, deploy/postgres/dagster.yaml in a temp DAGSTER_HOME, queues of its own on the shared broker."""

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psycopg2

REPO = Path(__file__).resolve().parents[2]


def create_database(postgres_url: str) -> str:
    name = f"poeconomy_{uuid.uuid4().hex[:10]}"
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    connection.cursor().execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return name


def drop_database(postgres_url: str, name: str) -> None:
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    connection.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def local_cluster_env(
    postgres_url: str, database: str, root: Path, broker: str, backend: str
) -> dict[str, str]:
    """The environment of every process of the deployment (orchestrators and workers alike)."""
    server = urlparse(postgres_url)
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "deploy" / "postgres" / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    user = server.username or "postgres"
    host, port = server.hostname or "127.0.0.1", server.port or 5432
    return {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "POECONOMY_PG_HOST": host,
        "POECONOMY_PG_PORT": str(port),
        "POECONOMY_PG_USER": user,
        "POECONOMY_PG_PASSWORD": server.password or "",
        "POECONOMY_PG_DB": database,
        "POECONOMY_DAGSTER_STORAGE": str(root / "dagster_storage"),
        "POECONOMY_HOME": str(root / "home"),
        "POECONOMY_DUMPS_DIR": str(root / "dumps"),
        "POECONOMY_CELERY_CONFIG": str(REPO / "deploy" / "celery" / "celery.yaml"),
        "POECONOMY_CELERY_BROKER": broker,
        "POECONOMY_CELERY_BACKEND": backend,
        # Queues of its own: another deployment (a demo, another test run) on the same broker never takes
        # these steps.
        "POECONOMY_CELERY_QUEUE_PREFIX": f"tmp-{uuid.uuid4().hex[:8]}-",
    }
