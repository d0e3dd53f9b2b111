"""drift_sensor: when the scorecard's drift check fails, retrain the currency × horizon models it names."""

import dagster as dg

from poeconomy_assets.defs.jobs import training_job
from poeconomy_assets.defs.scorecards import DRIFT_CHECK_KEY


def drifting_partitions(instance: dg.DagsterInstance) -> tuple[int, bool, list[str]] | None:
    """(record id, passed, partition keys) of the latest drift check evaluation, or None."""
    record = instance.get_latest_asset_check_evaluation_record(DRIFT_CHECK_KEY)
    if record is None or record.event is None or record.event.dagster_event is None:
        return None
    evaluation = record.event.dagster_event.event_specific_data
    if not isinstance(evaluation, dg.AssetCheckEvaluation):
        return None  # planned, not evaluated yet
    keys = evaluation.metadata.get("drifting_partitions")
    return record.id, evaluation.passed, list(keys.value) if keys is not None else []


@dg.sensor(
    job=training_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Retrains the currency × horizon partitions that forecast_scorecard_drift flags.",
)
def drift_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    latest = drifting_partitions(context.instance)
    if latest is None:
        return dg.SkipReason("forecast_scorecard_drift has not been evaluated yet")
    record_id, passed, keys = latest
    if context.cursor and int(context.cursor) >= record_id:
        return dg.SkipReason(f"check evaluation {record_id} already handled")
    if passed or not keys:
        return dg.SensorResult(skip_reason="no drift in the latest scorecard", cursor=str(record_id))
    requests = [
        dg.RunRequest(
            run_key=f"drift-{record_id}-{key}", partition_key=key, tags={"poeconomy/trigger": "drift"}
        )
        for key in keys
    ]
    return dg.SensorResult(run_requests=requests, cursor=str(record_id))


SENSORS = [drift_sensor]
