"""Which executor runs a run's steps, chosen by the deployment's environment (never by code changes):

- ``POECONOMY_CELERY_CONFIG`` (deploy/celery/celery.yaml): each step is a task on a Celery worker;
- ``POECONOMY_K8S_EXECUTOR_CONFIG`` (deploy/k8s/executor.yaml): each step is a Kubernetes Job (dagster-k8s);
- neither: Dagster's default (multiprocess on the run's own machine).
"""

import os
from pathlib import Path

import dagster as dg
import yaml

from poeconomy_assets.execution.celery_config import config_path, executor_config

K8S_CONFIG_ENV = "POECONOMY_K8S_EXECUTOR_CONFIG"


def k8s_executor_config(path: Path) -> dict:
    """The ``execution: config:`` block of a k8s_job_executor config file."""
    document = yaml.safe_load(Path(path).read_text()) or {}
    config = (document.get("execution") or {}).get("config")
    if not isinstance(config, dict):
        raise TypeError(f"{path}: expected an `execution: config:` mapping")
    return config


def executor_from_env() -> dg.ExecutorDefinition | None:
    celery = config_path()
    k8s = os.environ.get(K8S_CONFIG_ENV)
    if celery and k8s:
        raise ValueError(f"set POECONOMY_CELERY_CONFIG or {K8S_CONFIG_ENV}, not both")
    if celery:
        from dagster_celery import celery_executor

        return celery_executor.configured(executor_config(celery), name="celery")
    if k8s:
        from dagster_k8s import k8s_job_executor  # in the Kubernetes image (pip install dagster-k8s)

        return k8s_job_executor.configured(k8s_executor_config(Path(k8s)), name="k8s")
    return None
