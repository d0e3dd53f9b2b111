import multiprocessing
import uuid

import optuna
import psycopg2
import pytest

from poeconomy_assets.core.optuna_storage import optuna_storage

from .optuna_workers import tune


def test_no_url_means_in_memory() -> None:
    assert optuna_storage(None) is None and optuna_storage("") is None


@pytest.mark.postgres
def test_two_processes_tune_one_study_without_losing_or_duplicating_trials(postgres_url: str) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    schema = f"optuna_{uuid.uuid4().hex[:8]}"
    # The coordinator creates the study (and Optuna's tables); workers join it, as training runs do.
    optuna.create_study(study_name=name, storage=optuna_storage(postgres_url, schema))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(tune, [(postgres_url, schema, name, 10)] * 2)
    storage = optuna_storage(postgres_url, schema)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert len(complete) == 20
        assert sorted(t.number for t in study.trials) == list(range(20))
        assert abs(study.best_params["x"] - 1.0) < 2.5
    finally:
        storage.engine.dispose()
        with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
        connection.close()


@pytest.mark.postgres
def test_studies_do_not_touch_the_public_schema(postgres_url: str) -> None:
    """Dagster's instance keeps its own alembic_version in public; Optuna must not write there."""
    schema = f"optuna_{uuid.uuid4().hex[:8]}"
    storage = optuna_storage(postgres_url, schema)
    try:
        optuna.create_study(study_name="x", storage=storage)
        with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 'studies'")
            schemas = {row[0] for row in cursor.fetchall()}
        connection.close()
        assert schema in schemas and "public" not in schemas
    finally:
        storage.engine.dispose()
        with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
        connection.close()
