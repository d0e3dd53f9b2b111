"""Resource that says how hard the model searches work, for every run of a deployment."""

from typing import Literal

import dagster as dg

ProfileName = Literal["test", "development", "production"]  # the keys of core.models.ensemble.PROFILES


class TrainingSettings(dg.ConfigurableResource):
    """The search profile and seed every pooled search uses unless a run's config names others: ``test``
    (seconds; the simulated demo), ``development`` (minutes; the README's accuracy figures), ``production``
    (thorough). Set per deployment (``POECONOMY_TRAINING_PROFILE``), so a backfill launched from the UI, a
    sensor or the demo trains the same models."""

    profile: ProfileName = "test"
    seed: int = 0
