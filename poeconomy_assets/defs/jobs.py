"""Jobs for one asset or two over one partitions definition: what a user launches from a job's page, a schedule or
a sensor. The whole graph is never a job: it is an asset backfill of ``defs.selection.MAIN_GRAPH``."""

import dagster as dg

from poeconomy_assets.defs.partitions import (
    currency_horizon_partitions,
    horizon_partitions,
    league_partitions,
)

# The run queue (dagster.yaml: concurrency: runs:) keeps one run slot for the ingestion lane and dequeues the
# highest dagster/priority first, so a 5-minute snapshot never waits behind training or a backfill.
BATCH = {"poeconomy/lane": "batch"}
INGESTION = {"poeconomy/lane": "ingestion", "dagster/priority": "10"}


def batch_job(
    name: str, selection: list[str], description: str, partitions_def: dg.PartitionsDefinition | None = None
):  # an UnresolvedAssetJobDefinition
    """An asset job in the batch lane: every job but the 5-minute ingestion."""
    return dg.define_asset_job(
        name, selection=selection, partitions_def=partitions_def, description=description, tags=BATCH
    )


history_job = batch_job("history_job", ["poe_ninja_history"], "Import past leagues.")
daily_prices_job = batch_job("daily_prices_job", ["daily_prices"], "Daily prices of one league.")
features_job = batch_job("features_job", ["currency_features"], "Features of one currency.")
pooled_model_job = batch_job(
    "pooled_model_job",
    ["pooled_models"],
    "Search and train one horizon's pooled (cross-currency) model: before that horizon's models.",
    horizon_partitions,
)
training_job = batch_job(
    "training_job",
    ["price_models", "price_forecasts"],
    "Train one currency × horizon model (from its horizon's stored pooled model) and forecast with it.",
    currency_horizon_partitions,
)
model_job = batch_job(
    "model_job",
    ["price_models"],
    "Train one currency × horizon model (forecasts follow once every model is trained).",
    currency_horizon_partitions,
)
calibration_job = batch_job(
    "calibration_job",
    ["interval_calibration"],
    "Pool one horizon's walk-forward residuals (after its models, before its forecasts).",
    horizon_partitions,
)
forecast_job = batch_job(
    "forecast_job", ["price_forecasts"], "Forecast one currency × horizon with its stored model."
)
report_job = batch_job("report_job", ["investment_report"], "Report of one league.")
scorecard_job = batch_job(
    "scorecard_job", ["forecast_scorecard"], "Score the live league's past forecasts (drift check)."
)
backtest_job = batch_job(
    "backtest_job", ["backtest_scorecard"], "Backtest the latest league (profile from config)."
)

JOBS_PAST = [
    history_job,
    daily_prices_job,
    features_job,
    pooled_model_job,
    training_job,
    model_job,
    calibration_job,
    forecast_job,
    report_job,
    scorecard_job,
    backtest_job,
]

ingestion_job = dg.define_asset_job(
    "ingestion_job",
    selection=["poe_watch_snapshots", "daily_prices"],
    partitions_def=league_partitions,
    description="Take one 5-minute POE Watch snapshot of a live league and rebuild its daily prices.",
    tags=INGESTION,
    executor_def=dg.in_process_executor,  # two short steps: one process per run, not one per step
)
league_history_job = batch_job(
    "league_history_job",
    ["poe_watch_history", "daily_prices"],
    "Fetch a live league's earlier days from POE Watch /history and build its daily prices "
    "(the first step of a new league's backfill).",
    league_partitions,
)
LIVE_JOBS = [ingestion_job, league_history_job]
JOBS = JOBS_PAST + LIVE_JOBS
