"""Optuna studies on PostgreSQL: several processes tune one study; none of its trials is lost or doubled."""

import multiprocessing
import uuid
from collections.abc import Iterator
from typing import Any

import optuna
import psycopg2
import pytest

from poeconomy_assets.core.models.optuna_storage import optuna_storage


def tune(url: str, schema: str, study_name: str, trials: int, barrier: Any) -> int:
    """Child process: join (or create) the study once the other process is ready, and run ``trials`` cheap trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    barrier.wait(timeout=120)  # both processes create the tables and the study at once
    study = optuna.create_study(
        study_name=study_name, storage=optuna_storage(url, schema), load_if_exists=True
    )
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1.0) ** 2, n_trials=trials)
    return trials


@pytest.fixture
def optuna_schema(postgres_url: str) -> Iterator[str]:
    schema = f"optuna_{uuid.uuid4().hex[:8]}"
    yield schema
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    connection.close()


def test_no_url_means_in_memory() -> None:
    assert optuna_storage(None) is None and optuna_storage("") is None


@pytest.mark.parametrize("schema", ["Optuna", 'x"; DROP SCHEMA public; --'])
def test_schema_must_be_a_plain_identifier(schema: str) -> None:
    with pytest.raises(ValueError, match="lower-case SQL identifier"):
        optuna_storage("postgresql://nowhere/db", schema)


@pytest.mark.postgres
def test_two_processes_tune_one_study_without_losing_or_duplicating_trials(
    postgres_url: str, optuna_schema: str
) -> None:
    """Neither the tables nor the study exist beforehand: both workers race to create them."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("spawn")
    # A pool worker that dies (killed from outside) loses its task for good: .get(timeout) fails the test
    # after 10 minutes instead of leaving CI hanging (seen once, 2026-12-06).
    with context.Manager() as manager, context.Pool(2) as pool:
        barrier = manager.Barrier(2)  # one task per process, both released together
        assert pool.starmap_async(
            tune, [(postgres_url, optuna_schema, name, 10, barrier)] * 2, chunksize=1
        ).get(timeout=600) == [
            10,
            10,
        ]
    storage = optuna_storage(postgres_url, optuna_schema)
    try:
        assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == [name], "one study, not two"
        study = optuna.load_study(study_name=name, storage=storage)
        assert len(study.get_trials(states=[optuna.trial.TrialState.COMPLETE])) == len(study.trials) == 20
        assert sorted(t.number for t in study.trials) == list(range(20))
        assert len({t.params["x"] for t in study.trials}) == 20, "20 distinct trials, not one stored twice"
    finally:
        storage.engine.dispose()


@pytest.mark.postgres
def test_studies_do_not_touch_the_public_schema(postgres_url: str, optuna_schema: str) -> None:
    """Dagster's instance keeps its own alembic_version in public; Optuna must not write there."""
    storage = optuna_storage(postgres_url.replace("postgresql://", "postgresql+psycopg2://"), optuna_schema)
    name = f"test-{uuid.uuid4().hex[:8]}"
    try:
        # Connections the server dropped (restart, idle timeout) are replaced instead of failing a trial.
        assert storage.engine_kwargs == {"pool_pre_ping": True}
        optuna.create_study(study_name=name, storage=storage)
        with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute(f'SELECT study_name FROM "{optuna_schema}".studies')
            assert cursor.fetchall() == [(name,)]
            cursor.execute("SELECT to_regclass(%s)", (f"{optuna_schema}.alembic_version",))
            assert cursor.fetchone()[0] is not None, "Optuna's alembic_version is in its own schema"
            cursor.execute("SELECT to_regclass('public.studies')")
            if cursor.fetchone()[0] is not None:  # the shared test database may hold others' tables
                cursor.execute("SELECT count(*) FROM public.studies WHERE study_name = %s", (name,))
                assert cursor.fetchone()[0] == 0
        connection.close()
    finally:
        storage.engine.dispose()
