"""The Celery app every worker runs: ``celery -A poeconomy_assets.cluster.celery_app worker -Q training``.

Built from the same config as the executor (``POECONOMY_CELERY_CONFIG``) with dagster-celery's own
``make_app`` and ``execute_plan`` task, so a step submitted by a run is understood by every worker.
"""

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from poeconomy_assets.execution.celery_config import CONFIG_ENV, config_path, resolved_executor_config


def build_app():
    path = config_path()
    if path is None:
        raise RuntimeError(f"{CONFIG_ENV} is not set: point it at deploy/celery/celery.yaml")
    config = resolved_executor_config(path)
    app = make_app(
        CeleryExecutor.for_cli(
            broker=config["broker"],
            backend=config.get("backend"),
            include=config.get("include"),
            config_source=config.get("config_source"),
        ).app_args()
    )
    create_task(app)
    return app


app = build_app()
