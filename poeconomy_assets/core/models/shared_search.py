"""One Optuna search run together by several processes through an RDB study, with a reproducible result.

Every participant (a training step on any Celery worker) calls ``shared_search`` with the same arguments and
the same study name. Trials are planned in rounds of ``ROUND_SIZE``: round r's parameters are sampled by TPE
(seeded by ``seed`` and r) from the completed trials of the earlier rounds only, and round 0 opens with the
family's defaults. The first participant to reach a round enqueues it, under a lock on the study; each
participant then takes the next waiting trial, scores it on every fold and reports the score; all wait for
the round to finish before the next is planned. So the trials, their scores and the best trial depend on
the data and the seed only: not on how many processes take part, which finishes first, or whether one of
them dies (its trial's heartbeat stops, and it is failed and queued again with the same parameters). Known gap:
Optuna only fails trials that have sent a heartbeat, so a participant killed in the few milliseconds between
taking a trial and its first heartbeat leaves that trial running for ever and the others waiting.

There is no pruning here: a pruner's decision depends on which trials happen to have finished. The search
ends at a round boundary when the trial cap or the budget in estimated CPU seconds (the family's cost model,
summed over the planned trials) is reached. A participant arriving after the search ended just reads it.
"""

import os
import socket
import time
from collections.abc import Callable

import numpy as np
import optuna

from poeconomy_assets.core.models.families import ModelFamily
from poeconomy_assets.core.models.optuna_storage import study_lock

ROUND_SIZE = 4  # trials planned together: up to this many processes evaluate a round in parallel
POLL_SECONDS = 0.5

DONE = "search_done"  # study user attribute: the search ended (value: rounds planned)


def shared_search(
    family: ModelFamily,
    folds: list,
    n_trials: int,
    seed: int,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    evaluate: Callable[[dict, object, dict], float],
    budget_seconds: float | None = None,
    predictions: dict[str, np.ndarray] | None = None,
) -> tuple[dict, float, int]:
    """Best parameters (defaults filled in), their mean validation relative MAE, and the trials in the search.

    ``evaluate(params, fold, fold_predictions) -> score`` scores one fold (``tuning._fold_score``).
    ``predictions`` receives the best trial's validation predictions per fold league when this process
    evaluated it."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction="minimize", load_if_exists=True
    )
    seen: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    rounds = 0
    while True:
        with study_lock(storage, study_name):
            to_plan = DONE not in study.user_attrs and rounds not in _planned_rounds(study)
            if to_plan and not _plan_round(study, family, folds, rounds, n_trials, seed, budget_seconds):
                study.set_user_attr(DONE, rounds)
        if DONE in study.user_attrs and rounds >= study.user_attrs[DONE]:
            break
        _finish_round(study, rounds, lambda: _evaluate_waiting(study, family, folds, seen, evaluate))
        rounds += 1
    complete = _complete(study)
    if not complete:
        raise RuntimeError(f"study {study_name}: no trial completed (every participant failed?)")
    (best_round, best_slot), best = min(complete.items(), key=lambda kv: (kv[1].value, kv[0]))
    if predictions is not None and (best_round, best_slot) in seen:
        predictions.update(seen[(best_round, best_slot)])
    params = family.suggest(optuna.trial.FixedTrial(best.params)) if best.params else family.defaults()
    return {**family.defaults(), **params}, float(best.value), len(complete)


def _planned_rounds(study: optuna.Study) -> set[int]:
    return {t.user_attrs["round"] for t in study.get_trials(deepcopy=False) if "round" in t.user_attrs}


def _complete(study: optuna.Study) -> dict[tuple[int, int], optuna.trial.FrozenTrial]:
    """The completed trial of every (round, slot); the first, if a retried trial completed twice."""
    found: dict[tuple[int, int], optuna.trial.FrozenTrial] = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if "round" in trial.user_attrs:
            found.setdefault((trial.user_attrs["round"], trial.user_attrs["slot"]), trial)
    return found


def _plan_round(
    study: optuna.Study,
    family: ModelFamily,
    folds: list,
    round_: int,
    n_trials: int,
    seed: int,
    budget_seconds: float | None,
) -> bool:
    """Enqueue round ``round_`` (False when the trial cap or the budget says the search is over)."""
    complete = _complete(study)
    so_far = sum(1 for _ in complete) if round_ else 0
    spent = sum(_cost(family, t.params, folds) for t in complete.values())
    if round_ and (so_far >= n_trials or (budget_seconds is not None and spent >= budget_seconds)):
        return False
    planner = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed * 1009 + round_)
    )
    for key in sorted(complete):
        trial = complete[key]
        planner.add_trial(
            optuna.trial.create_trial(
                params=trial.params, distributions=trial.distributions, value=trial.value
            )
        )
    slots = min(ROUND_SIZE, n_trials - so_far)
    for slot in range(slots):
        if round_ == 0 and slot == 0:
            params = family.defaults()  # the hand-picked defaults always compete
        else:
            trial = planner.ask()
            family.suggest(trial)
            params = trial.params
            planner.tell(
                trial, state=optuna.trial.TrialState.FAIL
            )  # planned, not scored: keep TPE's view clean
        study.enqueue_trial(params, user_attrs={"round": round_, "slot": slot})
        spent += _cost(family, params, folds)
        if budget_seconds is not None and spent >= budget_seconds:
            break
    return True


def _cost(family: ModelFamily, params: dict, folds: list) -> float:
    full = (
        {**family.defaults(), **family.suggest(optuna.trial.FixedTrial(params))}
        if params
        else family.defaults()
    )
    return sum(family.cost(full, fold.train.height) for fold in folds)


def _evaluate_waiting(study, family, folds, seen, evaluate) -> None:
    """Take waiting trials one at a time until none is left (``optimize`` keeps the trial's heartbeat)."""

    def objective(trial: optuna.Trial) -> float:
        if "round" not in trial.user_attrs:  # another participant took the last waiting trial first
            raise optuna.TrialPruned("no planned trial left")
        worker = os.environ.get("POECONOMY_WORKER_NAME") or socket.gethostname()
        trial.set_user_attr("evaluated_by", f"{worker}:{os.getpid()}")
        params = {**family.defaults(), **family.suggest(trial)}
        fold_predictions: dict[str, np.ndarray] = {}
        score = float(np.mean([evaluate(params, fold, fold_predictions) for fold in folds]))
        seen[(trial.user_attrs["round"], trial.user_attrs["slot"])] = fold_predictions
        return score

    while study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        study.optimize(objective, n_trials=1)


def _finish_round(study: optuna.Study, round_: int, evaluate_waiting) -> None:
    """Evaluate waiting trials, then wait until no trial of the round waits or runs. A trial whose process
    died is failed by the heartbeat check and queued again by the storage's callback; it is taken here."""
    while True:
        evaluate_waiting()
        optuna.storages.fail_stale_trials(study)
        open_ = [
            t
            for t in study.get_trials(
                deepcopy=False, states=(optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
            )
            if t.user_attrs.get("round") == round_
        ]
        if not open_:
            return
        if all(t.state == optuna.trial.TrialState.RUNNING for t in open_):
            time.sleep(POLL_SECONDS)
