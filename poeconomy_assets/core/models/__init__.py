"""The forecasting models: the three model families (LightGBM, XGBoost, RandomForest), walk-forward tuning with
Optuna, the per-currency and pooled ensembles, the currency selection, where Optuna keeps studies, and model
artifacts on disk with their integrity checks."""

from poeconomy_assets.core.models.artifacts import (
    CODE_VERSION,
    KEY_ENV,
    KEY_FILE_ENV,
    KEY_FILE_NAME,
    MANIFEST,
    ArtifactIntegrityError,
    committed_directory,
    key_from_secret,
    load_or_create_key,
    read_signed_manifest,
    replace_directory,
    verify_files,
)
from poeconomy_assets.core.models.ensemble import (
    PROFILES,
    PooledModel,
    TrainedModel,
    TrainingProfile,
    horizon_training_rows,
    train_currency_model,
    train_pooled_model,
)
from poeconomy_assets.core.models.families import LIGHTGBM
from poeconomy_assets.core.models.optuna_storage import optuna_storage
from poeconomy_assets.core.models.selection import (
    MIN_DAYS,
    MIN_RELIABLE_ROWS,
    SelectionConfig,
    select_currencies,
)
from poeconomy_assets.core.models.skill_gate import SkillGate
from poeconomy_assets.core.models.tuning import tune_family, walk_forward_folds

__all__ = [
    "CODE_VERSION",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "KEY_FILE_NAME",
    "LIGHTGBM",
    "MANIFEST",
    "MIN_DAYS",
    "MIN_RELIABLE_ROWS",
    "PROFILES",
    "ArtifactIntegrityError",
    "PooledModel",
    "SelectionConfig",
    "SkillGate",
    "TrainedModel",
    "TrainingProfile",
    "committed_directory",
    "horizon_training_rows",
    "key_from_secret",
    "load_or_create_key",
    "optuna_storage",
    "read_signed_manifest",
    "replace_directory",
    "select_currencies",
    "train_currency_model",
    "train_pooled_model",
    "tune_family",
    "verify_files",
    "walk_forward_folds",
]
