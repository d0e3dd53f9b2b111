"""The training graph: one pooled (cross-currency) model per horizon, then one model per currency × horizon.

``pooled_models`` [horizon] runs the horizon's Optuna search once and stores the result; every
``price_models`` [currency × horizon] partition reads it through a partition mapping and only fits the
currency's own scope and picks. So a backfill of all ``price_models`` partitions, in any number of runs and
processes, searches once per horizon, and no model depends on what another run happened to cache.
"""

import math
import resource
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Any, get_args

import dagster as dg
import polars as pl
import pydantic

from poeconomy_assets.core.models import horizon_training_rows, train_currency_model, train_pooled_model
from poeconomy_assets.core.progress import Progress
from poeconomy_assets.defs.batching import (
    CHUNKED,
    PER_PARTITION,
    partition_metadata,
    run_partition_keys,
    run_value,
)
from poeconomy_assets.defs.metadata import currency_horizon, metric
from poeconomy_assets.defs.partitions import (
    currency_horizon_key,
    currency_horizon_partitions,
    horizon_partitions,
    split_currency_horizon,
)
from poeconomy_assets.execution.celery_config import TRAINING, queue_tags
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.resources.optuna_studies import OptunaStudies
from poeconomy_assets.resources.parquet_io_manager import ByPartition
from poeconomy_assets.resources.training_settings import ProfileName, TrainingSettings

# Every currency × horizon partition reads the pooled model of its own horizon.
with warnings.catch_warnings(category=dg.BetaWarning, action="ignore"):  # beta in 1.13, stable in use
    BY_HORIZON = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="horizon")


class PooledTrainingConfig(dg.Config):
    """Left empty, the search follows the deployment's ``training_settings`` resource (POECONOMY_TRAINING_PROFILE):
    `test` (seconds), `development` (minutes), `production` (thorough). Each currency's model follows the
    profile and seed of its horizon's pooled model."""

    profile: str | None = None  # one of ProfileName (Dagster config cannot make an optional Literal)
    seed: int | None = None

    @pydantic.field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        if value is not None and value not in get_args(ProfileName):
            raise ValueError(f"profile {value!r} is not one of {', '.join(get_args(ProfileName))}")
        return value


class TrainingConfig(dg.Config):
    """Left empty, a currency's model follows its pooled model's profile and seed; set, they must agree."""

    profile: str | None = None  # one of ProfileName (Dagster config cannot make an optional Literal)
    seed: int | None = None


def training_asset(**asset_args: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """``@dg.asset`` for a model-training step: group ``models``, the ``training`` pool (its slots cap training
    steps across all runs) and, on Celery (deploy/celery), the ``training`` queue, apart from ingestion."""
    return dg.asset(group_name="models", pool="training", op_tags=queue_tags(TRAINING), **asset_args)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@training_asset(
    partitions_def=horizon_partitions,
    backfill_policy=PER_PARTITION,  # one search per run: the three horizons' searches run side by side
    ins={"currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"lightgbm", "xgboost", "optuna"},
)
def pooled_models(
    context: dg.AssetExecutionContext,
    config: PooledTrainingConfig,
    currency_features: pl.DataFrame,
    model_store: ModelStore,
    optuna_studies: OptunaStudies,
    training_settings: TrainingSettings,
) -> dg.MaterializeResult:
    """The horizon's cross-currency model, its Optuna search included: the one search of the horizon,
    shared by every currency's model. The stored value is its manifest."""
    manifests = ByPartition()
    profile = config.profile or training_settings.profile
    seed = training_settings.seed if config.seed is None else config.seed
    for horizon in run_partition_keys(context):
        cpu_before = _cpu_seconds()
        context.log.info(
            f"pooled {horizon}: searching on {currency_features.height} feature rows "
            f"({currency_features['currency'].n_unique()} currencies), profile {profile}"
        )
        pooled = train_pooled_model(
            currency_features, horizon, profile=profile, seed=seed, storage=optuna_studies.storage()
        )
        manifests[horizon] = model_store.save_pooled(pooled)
        scores = pooled.scope.scores
        context.log.info(
            f"pooled {horizon}: {pooled.trials} search trials in {pooled.seconds:.1f}s, "
            f"validation rel_mae {', '.join(f'{k} {v:.3f}' for k, v in scores.items())}"
        )
        partition_metadata(
            context,
            horizon,
            {
                "horizon": horizon,
                "profile": pooled.profile.name,
                "seed": pooled.seed,
                "searches": 1,  # one Optuna search (per searchable family) per materialization
                "search_trials": pooled.trials,
                "family_validation_rel_mae": dg.MetadataValue.json(
                    {k: round(v, 4) for k, v in scores.items()}
                ),
                "params": dg.MetadataValue.json(pooled.scope.params),
                # the skill gate's level for this horizon, chosen on the validation leagues (core.models.skill_gate)
                "skill_gate_level": pooled.gate.alpha,
                "skill_gate_level_reason": pooled.gate.reason,
                "skill_gate_level_scores": dg.MetadataValue.json(pooled.gate.scores),
                "currencies": len(pooled.currency_codes),
                "training_rows": int(pooled.data_version.split("-")[0]),  # rows with a known target
                "validation_rows": pooled.scope.oof.height,
                "features": len(pooled.feature_names),
                "data_version": pooled.data_version,
                "artifact_dir": dg.MetadataValue.path(str(model_store.pooled_directory(horizon))),
                "wall_seconds": round(pooled.seconds, 2),
                "cpu_seconds": round(
                    _cpu_seconds() - cpu_before, 2
                ),  # this process, both threads' fits included
            },
        )
    return dg.MaterializeResult(value=run_value(manifests), metadata={"peak_rss_mb": _peak_rss_mb()})


@training_asset(
    partitions_def=currency_horizon_partitions,
    backfill_policy=CHUNKED,
    ins={
        # Pooled models and the own-vs-pooled validation learn from every currency's features.
        "currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
        "pooled_models": dg.AssetIn(partition_mapping=BY_HORIZON),
    },
    kinds={"lightgbm", "xgboost", "scikitlearn"},
)
def price_models(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    currency_features: pl.DataFrame,
    pooled_models: dict,
    model_store: ModelStore,
) -> dg.MaterializeResult:
    """A trained model per currency × horizon of the run, predicting the currency's log return over the horizon;
    each partition's stored value is its manifest. A horizon's pooled model and training rows are loaded once
    per run, whatever number of its currencies the run trains."""
    by_horizon: dict[str, list[str]] = defaultdict(list)
    keys = run_partition_keys(context)
    for key in keys:
        currency, horizon = split_currency_horizon(key)
        by_horizon[horizon].append(currency)
    # The pooled manifests the run reads: one horizon's manifest, or a ByPartition of several.
    recorded = (
        pooled_models if isinstance(pooled_models, ByPartition) else {next(iter(by_horizon)): pooled_models}
    )
    progress = Progress(len(keys), "price_models", context.log.info, unit="models")
    manifests, scores, gated = ByPartition(), [], 0
    for horizon, currencies in by_horizon.items():
        pooled = model_store.load_pooled(horizon)  # sha256 checked against its own manifest
        if recorded[horizon].get("files") != model_store.pooled_manifest(horizon).get("files"):
            raise RuntimeError(
                f"the stored pooled {horizon} model is not the one pooled_models[{horizon}] last "
                "recorded (replaced outside Dagster?): materialize pooled_models again"
            )
        rows = horizon_training_rows(currency_features, pooled)
        for currency in currencies:
            key = str(currency_horizon_key(currency, horizon))
            started = time.perf_counter()
            model = train_currency_model(
                currency_features,
                currency,
                horizon,
                profile=config.profile,
                seed=config.seed,
                pooled=pooled,
                training_rows=rows,
            )
            manifests[key] = model_store.save(model)
            seconds = time.perf_counter() - started
            m = model.metrics
            if model.info["data_version"] != pooled.data_version:
                context.log.warning(
                    f"pooled {horizon} model was trained on other features ({pooled.data_version}, "
                    f"now {model.info['data_version']}): materialize pooled_models[{horizon}]"
                )
            context.log.debug(
                f"{currency} {horizon}: validation MAE {m['mae_model']:.4g} vs persistence {m['mae_persistence']:.4g}"
                f" (rel_mae {m['rel_mae']:.3f}, {int(m['n_val'])} days, scope {model.info['scope']}) in {seconds:.1f}s"
            )
            scores.append(m["rel_mae"])
            gated += not model.gate.use_model
            partition_metadata(context, key, model_metadata(model, pooled, model_store, seconds))
            progress.step()
    finite = [s for s in scores if not math.isnan(s)]
    return dg.MaterializeResult(
        value=run_value(manifests),
        metadata={
            "models_in_run": len(keys),
            "horizons_in_run": ", ".join(by_horizon),
            "median_rel_mae_in_run": metric(sorted(finite)[len(finite) // 2]) if finite else "n/a",
            "no_change_forecasts_in_run": gated,  # models whose skill gate is closed
            "peak_rss_mb": _peak_rss_mb(),
        },
    )


def model_metadata(model: Any, pooled: Any, model_store: ModelStore, seconds: float) -> dict[str, Any]:
    """What one currency × horizon model's page in the UI shows: the model against persistence, its scope
    (own history or pooled) and why, weights, and where its files are."""
    m = model.metrics
    comparison = (
        "| on held-out days | model | persistence |\n|---|---|---|\n"
        f"| MAE (chaos) | {m['mae_model']:.4g} | {m['mae_persistence']:.4g} |\n"
        f"| RMSE (chaos) | {m.get('rmse_model', float('nan')):.4g} | {m.get('rmse_persistence', float('nan')):.4g} |\n"
        f"| relative MAE | {m['rel_mae']:.3f} | 1.000 |\n"
        f"| direction accuracy | {m.get('direction_accuracy', float('nan')):.1%} | – |\n"
        f"| days | {int(m['n_val'])} | {int(m['n_val'])} |"
    )
    return {
        **currency_horizon(model.currency, model.horizon),
        "profile": pooled.profile.name,
        "rel_mae": metric(m["rel_mae"]),  # relative MAE: model MAE / persistence MAE
        # the skill gate (core.models.skill_gate): the model's move, or no change where it proved no skill
        "forecast": model.gate.label,
        "forecast_reason": model.gate.reason,
        "gate_p_value": metric(model.gate.p_value),
        "mae_model": metric(m["mae_model"], 6),
        "mae_persistence": metric(m["mae_persistence"], 6),
        "validation_days": int(m["n_val"]),
        "model_vs_persistence": dg.MetadataValue.md(comparison),
        "scope": model.info["scope"],
        "scope_reason": model.info["scope_reason"],
        "searches": 0,  # the search is pooled_models' (see pooled_data_version)
        "search_trials": int(m["trials"]),  # of the pooled search this model was built from
        "pooled_data_version": pooled.data_version,
        "ensemble_weights": dg.MetadataValue.json(model.weights),
        # per league phase, the factor on the blended log return: < 1 shrinks toward persistence, > 1 amplifies
        "return_scale_by_phase": dg.MetadataValue.json(model.return_scale),
        "params": dg.MetadataValue.json(model.params),
        "features": len(model.feature_names),
        "artifact_dir": dg.MetadataValue.path(str(model_store.directory(model.currency, model.horizon))),
        "wall_seconds": round(seconds, 2),
    }
