"""Live ingestion from a price source (POE Watch): the Dagster definitions that follow running leagues.

- ``snapshots.py``: ``poe_watch_snapshots``, one snapshot of a live league per 5-minute slot (its work is
  ``core/ingest/snapshot.py``);
- ``league_history.py``: ``poe_watch_history``, a new league's earlier days from ``/history``;
- ``sensors.py``: ``ingestion_sensor`` (a run per slot, never piling up) and ``new_league_sensor`` (a new
  league's partitions and its backfill);
- ``slot_ledger.py``: the ingestion sensor's memory of slots, and the operations view read back from the
  instance.

Their jobs (``ingestion_job``, ``league_history_job``) are in ``defs/jobs.py`` with every other job (one place
sets the run lanes); the source they call is the ``poe_watch`` resource (``resources/price_source.py``).
"""
