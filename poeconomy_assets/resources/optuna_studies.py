"""Resource that says where the model search keeps its Optuna studies."""

import dagster as dg
import optuna

from poeconomy_assets.core.models import optuna_storage


class OptunaStudies(dg.ConfigurableResource):
    """``url`` empty: each search lives in memory, in the step that runs it (the default). A PostgreSQL URL:
    each search is one RDB study in ``db_schema``, and every step that needs it (on any worker) takes part
    in it and reads its result (core/models/shared_search.py)."""

    url: str = ""
    db_schema: str = "optuna"

    def storage(self) -> optuna.storages.BaseStorage | None:
        return optuna_storage(self.url or None, self.db_schema)
