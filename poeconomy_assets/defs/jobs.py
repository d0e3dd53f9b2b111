"""Jobs, one per partitions definition (a run materializes one partition of one definition)."""

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

history_job = dg.define_asset_job("history_job", selection=["poe_ninja_history"], description="Import past leagues.",
                                  tags=BATCH)
daily_prices_job = dg.define_asset_job(
    "daily_prices_job", selection=["daily_prices"], description="Daily prices of one league.",
    tags=BATCH,
)
features_job = dg.define_asset_job(
    "features_job", selection=["currency_features"], description="Features of one currency.",
    tags=BATCH,
)
pooled_model_job = dg.define_asset_job(
    "pooled_model_job",
    selection=["pooled_models"],
    partitions_def=horizon_partitions,
    description="Search and train one horizon's pooled (cross-currency) model: before that horizon's models.",
    tags=BATCH,
)
training_job = dg.define_asset_job(
    "training_job",
    selection=["price_models", "price_forecasts"],
    partitions_def=currency_horizon_partitions,
    description="Train one currency × horizon model (from its horizon's stored pooled model) and forecast with it.",
    tags=BATCH,
)
model_job = dg.define_asset_job(
    "model_job",
    selection=["price_models"],
    partitions_def=currency_horizon_partitions,
    description="Train one currency × horizon model (forecasts follow once every model is trained).",
    tags=BATCH,
)
forecast_job = dg.define_asset_job(
    "forecast_job", selection=["price_forecasts"], description="Forecast one currency × horizon with its stored model.",
    tags=BATCH,
)
report_job = dg.define_asset_job("report_job", selection=["investment_report"], description="Report of one league.",
                                 tags=BATCH)

scorecard_job = dg.define_asset_job(
    "scorecard_job", selection=["forecast_scorecard"], description="Score the live league's past forecasts (drift check).",
    tags=BATCH,
)
backtest_job = dg.define_asset_job(
    "backtest_job", selection=["backtest_scorecard"], description="Backtest the latest league (profile from config).",
    tags=BATCH,
)

JOBS_PAST = [history_job, daily_prices_job, features_job, pooled_model_job, training_job, model_job, forecast_job,
             report_job, scorecard_job, backtest_job]

ingestion_job = dg.define_asset_job(
    "ingestion_job", selection=["poe_watch_snapshots", "daily_prices"], partitions_def=league_partitions,
    description="Take one 5-minute POE Watch snapshot of a live league and rebuild its daily prices.",
    tags=INGESTION,
    executor_def=dg.in_process_executor,  # two short steps: one process per run, not one per step
)
league_history_job = dg.define_asset_job(
    "league_history_job", selection=["poe_watch_history", "daily_prices"], partitions_def=league_partitions,
    description="Fetch a live league's earlier days from POE Watch /history and build its daily prices "
    "(the first step of a new league's backfill).",
    tags=BATCH,
)
LIVE_JOBS = [ingestion_job, league_history_job]
JOBS = JOBS_PAST + LIVE_JOBS
