"""The Celery deployment's settings, read once from ``POECONOMY_CELERY_CONFIG`` (deploy/celery/celery.yaml).

The same file configures the executor (the orchestrating side) and the workers, so both agree on the broker,
the result backend and the task settings. ``POECONOMY_CELERY_QUEUE_PREFIX`` prefixes every queue name, so
deployments (or test runs) can share one broker without taking each other's steps.
"""

import copy
import os
from pathlib import Path

import yaml

CONFIG_ENV = "POECONOMY_CELERY_CONFIG"
QUEUE_TAG = "dagster-celery/queue"  # the tag dagster-celery reads to route a step
TRAINING, DEFAULT = "training", "default"


def queue_name(kind: str) -> str:
    """The broker queue for one kind of work (``training`` or ``default``) in this deployment."""
    return os.environ.get("POECONOMY_CELERY_QUEUE_PREFIX", "") + kind


def queue_tags(kind: str) -> dict[str, str]:
    """Op tags that send a step to the queue of ``kind`` when the Celery executor runs it."""
    return {QUEUE_TAG: queue_name(kind)}


def config_path() -> Path | None:
    value = os.environ.get(CONFIG_ENV)
    return Path(value) if value else None


def executor_config(path: Path) -> dict:
    """The ``execution: config:`` block of ``path`` (``{env: ...}`` values unresolved), with the default
    queue named for this deployment."""
    document = yaml.safe_load(Path(path).read_text()) or {}
    config = copy.deepcopy((document.get("execution") or {}).get("config"))
    if not isinstance(config, dict) or "broker" not in config:
        raise ValueError(f"{path}: expected an `execution: config:` block with at least `broker:`")
    source = config.setdefault("config_source", {})
    source["task_default_queue"] = queue_name(source.get("task_default_queue", DEFAULT))
    return config


def _resolve(value: object, path: Path, key: str) -> object:
    if isinstance(value, dict) and set(value) == {"env"}:
        resolved = os.environ.get(value["env"])
        if not resolved:
            raise ValueError(f"{path}: `{key}` reads ${value['env']}, which is not set")
        return resolved
    return value


def resolved_executor_config(path: Path) -> dict:
    """``executor_config`` with its ``{env: VAR}`` values read from this process's environment (workers)."""
    config = executor_config(path)
    return {key: _resolve(value, path, key) for key, value in config.items()}
