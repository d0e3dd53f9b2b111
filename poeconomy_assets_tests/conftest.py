"""Shared fixtures: real services where the product uses them, skipped visibly when absent."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DUMPS_DIR = REPO_ROOT.parent / "shared" / "data" / "poe-ninja"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    return os.environ.get("POECONOMY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a PostgreSQL server that answers. Skips (or fails under POECONOMY_REQUIRE_POSTGRES=1)."""
    url = _postgres_url()
    try:
        import psycopg2

        psycopg2.connect(url, connect_timeout=3).close()
    except Exception as exc:  # any failure to connect means "no server here"
        reason = f"PostgreSQL not reachable at {url}: {exc}".strip()
        if os.environ.get("POECONOMY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"POECONOMY_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def real_dumps_dir() -> Path:
    """../shared/data/poe-ninja when present (never copied into the project)."""
    if not any(REAL_DUMPS_DIR.glob("*.currency.csv")):
        pytest.skip(f"real poe.ninja dumps not found at {REAL_DUMPS_DIR}")
    return REAL_DUMPS_DIR
