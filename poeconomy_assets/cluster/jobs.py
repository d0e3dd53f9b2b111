"""The graph's jobs as reconstructable targets: a run's orchestrator and every Celery worker rebuild the
same job from this module, with resources and executor read from their own environment
(``POECONOMY_HOME``, ``POECONOMY_CELERY_CONFIG``, ...; see defs/resources.py)."""

import functools
import os

import dagster as dg

from poeconomy_assets.execution.executor import executor_from_env

_ENV = (
    "POECONOMY_HOME",
    "POECONOMY_DUMPS_DIR",
    "POECONOMY_PRICE_STORE_URL",
    "POECONOMY_PRICE_STORE_SCHEMA",
    "POECONOMY_CELERY_CONFIG",
    "POECONOMY_CELERY_QUEUE_PREFIX",
    "POECONOMY_K8S_EXECUTOR_CONFIG",
    "POECONOMY_OPTUNA_STORAGE_URL",
    "POECONOMY_TRAINING_PROFILE",
    "POECONOMY_MODEL_SIGNING_KEY",
    "POECONOMY_MODEL_SIGNING_KEY_FILE",
)


@functools.lru_cache(maxsize=4)
def _defs(_environment: tuple) -> dg.Definitions:
    from poeconomy_assets.definitions import build_defs
    from poeconomy_assets.defs.resources import build_resources

    return build_defs(build_resources(), executor_from_env())


def cluster_defs() -> dg.Definitions:
    """The code location as this process's environment configures it (built once per environment)."""
    return _defs(tuple(os.environ.get(name) for name in _ENV))


# The jobs runs on the cluster may be of (`poeconomy cluster run --job`, the cluster demo).
CLUSTER_JOBS = (
    "history_job",
    "daily_prices_job",
    "features_job",
    "pooled_model_job",
    "model_job",
    "calibration_job",
    "forecast_job",
    "report_job",
    "scorecard_job",
)


def job_named(name: str) -> dg.JobDefinition:
    """The job ``name`` of the code location this process's environment configures: what every process of a
    run (its orchestrator, each Celery worker) calls to rebuild the job."""
    return cluster_defs().resolve_job_def(name)


def reconstructable_job(name: str):  # a ReconstructableJob (a type ``dagster`` does not export)
    """A job other processes can rebuild: they import this module and call ``job_named(name)``."""
    if name not in CLUSTER_JOBS:
        raise KeyError(f"no job {name!r} on the cluster (known: {', '.join(CLUSTER_JOBS)})")
    return dg.build_reconstructable_job(__name__, job_named.__name__, reconstructable_args=(name,))
