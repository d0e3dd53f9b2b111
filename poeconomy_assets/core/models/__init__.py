"""The forecasting models: the three model families (LightGBM, XGBoost, RandomForest), walk-forward tuning with
Optuna, the per-currency and pooled ensembles, the currency selection, where Optuna keeps studies, and model
artifacts on disk with their integrity checks."""
