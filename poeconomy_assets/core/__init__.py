"""The pure domain layer: everything production runs, written without Dagster (polars, numpy, the model libraries).

Folders by domain: ingest (reading and validating sources), features (what the models see), models (fitting,
tuning, saving), uncertainty (intervals and the forecast table), evaluation (scores and backtests), report (what a
trader reads). At the top sit what every folder shares: table schemas, partition keys, price helpers, the
atomic file write and the one matplotlib setup (plotting.py).
Nothing here imports dagster; defs/ wires these functions into assets and resources/ into Dagster resources."""
