"""Walk-forward validation by league and the Optuna search over each model family's parameters.

Folds are whole leagues: fold k validates on one of the most recent training leagues and trains on
every league before it, minus the last ``h`` days before the validation league starts, so a training
target (which looks ``h`` days ahead) can never overlap the validation period. (Leagues never
overlap, so the gap only bites on data where they would.)
"""

import logging
from dataclasses import dataclass

import numpy as np
import optuna
import polars as pl

from poeconomy_assets.core.metrics import relative_mae
from poeconomy_assets.core.models.families import ModelFamily
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.progress import Progress

# Where a search keeps its trials: an Optuna storage, a database URL, or None (this process's memory).
StudyStorage = optuna.storages.BaseStorage | str | None


@dataclass(frozen=True)
class Fold:
    train: pl.DataFrame
    validation: pl.DataFrame
    league: str


def walk_forward_folds(
    rows: pl.DataFrame, n_folds: int, gap_days: int, min_train_leagues: int = 2
) -> list[Fold]:
    """Up to ``n_folds`` folds over the most recent leagues of ``rows`` (oldest fold first)."""
    leagues = league_order(rows)
    folds = []
    for league in leagues[max(min_train_leagues, len(leagues) - n_folds) :]:
        validation = rows.filter(pl.col("league") == league)
        start = validation["date"].min()
        earlier = leagues[: leagues.index(league)]
        train = rows.filter(
            pl.col("league").is_in(earlier) & (pl.col("date") < start - pl.duration(days=gap_days))
        )
        if train.height and validation.height:
            folds.append(Fold(train, validation, league))
    return folds


def validation_relative_mae(validation: pl.DataFrame, target: str, predicted: np.ndarray) -> float:
    """Relative MAE (metrics.relative_mae) of the price forecasts from ``predicted`` log returns on the
    validation rows, averaged over currencies (lower is better; 1 = persistence, also the value when no
    currency moved): the score every search and blend minimises."""
    price = validation["price_chaos"].to_numpy()
    actual = price * np.exp(validation[target].to_numpy())
    forecast = price * np.exp(np.asarray(predicted, dtype=float))
    codes = (
        validation["currency"].to_physical().to_numpy()
        if validation["currency"].dtype == pl.Categorical
        else np.unique(validation["currency"].to_numpy(), return_inverse=True)[1]
    )
    score = relative_mae(price, actual, forecast, groups=codes)
    return 1.0 if np.isnan(score) else score


# Search progress (trials done, time left) at most every 15 s: the backtest CLI prints it, a Dagster run's
# captured logs show it (dagster.yaml: python_logs).
SEARCH_LOG = logging.getLogger("poeconomy.search")


def tune_family(
    family: ModelFamily,
    folds: list[Fold],
    features: list[str],
    target: str,
    n_trials: int,
    seed: int,
    storage: StudyStorage = None,
    study_name: str | None = None,
    budget_seconds: float | None = None,
    predictions: dict[str, np.ndarray] | None = None,
) -> tuple[dict, float, int]:
    """Best parameters, their mean validation relative MAE, and the trials run. Each trial reports after
    every fold, so the median pruner stops unpromising ones early. If ``predictions`` is given, it
    receives the best parameters' validation predictions per fold league (when this process ran that
    trial), so the caller need not fit the same models again.

    ``budget_seconds`` caps the search in *estimated* single-core CPU seconds (the family's cost model,
    counted after every fold): the first trial (the family's defaults) always completes, and the trial
    running when the budget is spent is pruned and ends the search. An estimate rather than a clock, so
    the same data and seed give the same search on every run, whatever the machine and its load."""
    if isinstance(storage, str):  # a database URL (the optuna_studies resource: POECONOMY_OPTUNA_STORAGE_URL)
        from poeconomy_assets.core.models.optuna_storage import optuna_storage

        storage = optuna_storage(storage)
    if storage is not None and n_trials > 1 and family.searchable:
        return search_through_storage(
            family, folds, features, target, n_trials, seed, storage, study_name, budget_seconds, predictions
        )
    seen: dict[int, dict[str, np.ndarray]] = {}
    spent = 0.0  # estimated CPU seconds of every fit so far
    if n_trials <= 1 or not family.searchable:
        score = _evaluate(family, family.defaults(), folds, features, target, seed, seen.setdefault(0, {}))
        if predictions is not None:
            predictions.update(seen[0])
        return family.defaults(), score, 1

    def objective(trial: optuna.Trial) -> float:
        nonlocal spent
        params = family.suggest(trial)
        scores, fold_predictions = [], seen.setdefault(trial.number, {})
        for step, fold in enumerate(folds):
            scores.append(_fold_score(family, params, fold, features, target, seed, fold_predictions))
            trial.report(float(np.mean(scores)), step)
            spent += family.cost(params, fold.train.height)
            if budget_seconds is not None and spent > budget_seconds:
                trial.study.stop()  # this is the last trial
                if trial.number > 0 and step < len(folds) - 1:  # cut short (the defaults always finish)
                    seen.pop(trial.number, None)
                    raise optuna.TrialPruned()
            if trial.should_prune():
                seen.pop(trial.number, None)
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    study = create_search_study(seed, storage, study_name)
    study.enqueue_trial(family.defaults())  # the hand-picked defaults always compete
    progress = Progress(
        n_trials,
        f"search {family.name} ({study_name or 'in memory'})",
        SEARCH_LOG.info,
        unit="trials at most (the budget may end it sooner)",
        every=15.0,
    )
    study.optimize(objective, n_trials=n_trials, callbacks=[lambda _study, _trial: progress.step()])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:  # only possible with a shared storage whose other workers failed
        return (
            family.defaults(),
            _evaluate(family, family.defaults(), folds, features, target, seed),
            len(study.trials),
        )
    best = study.best_trial
    if predictions is not None and best.number in seen and len(seen[best.number]) == len(folds):
        predictions.update(seen[best.number])
    return {**family.defaults(), **best.params}, float(study.best_value), len(study.trials)


def search_through_storage(
    family: ModelFamily,
    folds: list[Fold],
    features: list[str],
    target: str,
    n_trials: int,
    seed: int,
    storage: optuna.storages.BaseStorage,
    study_name: str | None,
    budget_seconds: float | None,
    predictions: dict[str, np.ndarray] | None,
):
    """With a configured RDB storage (``OptunaStudies``), the search is one study that every process
    training this scope joins: trials planned in seeded rounds, so the same data and seed give the same best
    trial however many workers share it (core/models/shared_search.py)."""
    from poeconomy_assets.core.models.shared_search import shared_search

    def evaluate(params: dict, fold: Fold, fold_predictions: dict[str, np.ndarray]) -> float:
        return _fold_score(family, params, fold, features, target, seed, fold_predictions)

    return shared_search(
        family,
        folds,
        n_trials,
        seed,
        storage,
        study_name or f"{family.name}-{seed}",
        evaluate,
        budget_seconds,
        predictions,
    )


def create_search_study(
    seed: int, storage: StudyStorage = None, study_name: str | None = None
) -> optuna.Study:
    """The Optuna study of one family's search (TPE seeded with ``seed``, median pruning, minimising the relative MAE).

    ``storage`` is an Optuna storage, a database URL (a PostgreSQL URL keeps studies in their own schema,
    see ``optuna_storage``) or None (this process's memory). With a storage, every worker that creates
    the same ``study_name`` joins one study and shares its trials."""
    if isinstance(storage, str):
        from poeconomy_assets.core.models.optuna_storage import optuna_storage

        storage = optuna_storage(storage) if storage.startswith("postgresql") else storage
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        storage=storage,
        study_name=study_name if storage is not None else None,
        load_if_exists=storage is not None,
    )


def _fold_score(
    family: ModelFamily,
    params: dict,
    fold: Fold,
    features: list[str],
    target: str,
    seed: int,
    predictions: dict[str, np.ndarray] | None = None,
) -> float:
    model = family.fit(fold.train.select(features), fold.train[target].to_numpy(), params, seed)
    predicted = np.asarray(family.predict(model, fold.validation.select(features)), dtype=float)
    if predictions is not None:
        predictions[fold.league] = predicted
    return validation_relative_mae(fold.validation, target, predicted)


def _evaluate(
    family: ModelFamily,
    params: dict,
    folds: list[Fold],
    features: list[str],
    target: str,
    seed: int,
    predictions: dict[str, np.ndarray] | None = None,
) -> float:
    return float(
        np.mean([_fold_score(family, params, f, features, target, seed, predictions) for f in folds])
    )
