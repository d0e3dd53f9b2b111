"""The graph's jobs as reconstructable targets: a run's orchestrator and every Celery worker rebuild the
same job from this module, with resources and executor read from their own environment
(``POECONOMY_HOME``, ``POECONOMY_CELERY_CONFIG``, ...; see defs/resources.py)."""

import functools
import os

import dagster as dg

from poeconomy_assets.cluster.executor import executor_from_env

_ENV = ("POECONOMY_HOME", "POECONOMY_DUMPS_DIR", "POECONOMY_PRICE_STORE_URL", "POECONOMY_PRICE_STORE_SCHEMA",
        "POECONOMY_CELERY_CONFIG", "POECONOMY_CELERY_QUEUE_PREFIX", "POECONOMY_K8S_EXECUTOR_CONFIG",
        "POECONOMY_OPTUNA_STORAGE_URL")


@functools.lru_cache(maxsize=4)
def _defs(_environment: tuple) -> dg.Definitions:
    from poeconomy_assets.definitions import build_defs
    from poeconomy_assets.defs.resources import build_resources

    return build_defs(build_resources(), executor_from_env())


def cluster_defs() -> dg.Definitions:
    """The code location as this process's environment configures it (built once per environment)."""
    return _defs(tuple(os.environ.get(name) for name in _ENV))


def history_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("history_job")


def daily_prices_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("daily_prices_job")


def features_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("features_job")


def pooled_model_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("pooled_model_job")


def model_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("model_job")


def forecast_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("forecast_job")


def report_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("report_job")


def scorecard_job() -> dg.JobDefinition:
    return cluster_defs().resolve_job_def("scorecard_job")


JOBS = {f.__name__: f for f in (history_job, daily_prices_job, features_job, pooled_model_job, model_job, forecast_job, report_job,
                                 scorecard_job)}


def reconstructable_job(name: str):
    if name not in JOBS:
        raise KeyError(f"no job {name!r} on the cluster (known: {', '.join(JOBS)})")
    return dg.reconstructable(JOBS[name])
