"""What "the whole graph" means for a demo, a new league or a retrain: asset selections, never stage lists.

Dagster orders the work from the declared dependencies (an asset backfill, or a toposort of the graph for the
in-process path); these selections only say which assets take part.
"""

import dagster as dg

PAST_LEAGUES = dg.AssetSelection.assets("poe_ninja_history")
# Everything the past leagues feed, up to the reports and the live league's scorecard. Not the backtest (its own
# job: it retrains every model per held-out league) and not the live POE Watch assets (their sensors run them).
MAIN_GRAPH = PAST_LEAGUES.downstream(include_self=False) - dg.AssetSelection.assets("backtest_scorecard")
# A new live league: its POE Watch history, then what MAIN_GRAPH builds from it.
NEW_LEAGUE = MAIN_GRAPH | dg.AssetSelection.assets("poe_watch_history")
# The weekly retrain: every currency's model, then what is built from the models.
RETRAIN = dg.AssetSelection.assets("price_models").downstream() - dg.AssetSelection.assets(
    "forecast_scorecard"
)
# Models that are trained only where missing when a new league arrives (the weekly retrain refreshes the rest).
TRAINED_ONCE = dg.AssetSelection.groups("models")


def selected_keys(defs: dg.Definitions, selection: dg.AssetSelection) -> list[dg.AssetKey]:
    """The assets of ``selection``, parents before children, as Dagster's asset graph orders them."""
    graph = defs.resolve_asset_graph()
    wanted = selection.resolve(graph)
    return [key for key in graph.toposorted_asset_keys if key in wanted]
