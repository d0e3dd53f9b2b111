"""Run in child processes by the Optuna storage test."""

import optuna

from poeconomy_assets.core.optuna_storage import optuna_storage


def tune(url: str, schema: str, study_name: str, trials: int) -> int:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=optuna_storage(url, schema), load_if_exists=True)
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1.0) ** 2, n_trials=trials)
    return trials
