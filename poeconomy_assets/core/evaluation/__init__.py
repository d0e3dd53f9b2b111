"""How good forecasts were: scores always next to persistence, backtests on held-out leagues, the realized
scorecard of past forecasts and its charts."""

from poeconomy_assets.core.evaluation.backtest import (
    average_scorecards,
    backtest_league,
    league_order,
    rolling_backtest,
    train_leagues_for,
)
from poeconomy_assets.core.evaluation.scorecard import (
    DriftRules,
    band_verdict,
    horizon_summary,
    realized_points,
    score_realized,
)
from poeconomy_assets.core.evaluation.scorecard_charts import scorecard_chart_png, strategy_chart_png
from poeconomy_assets.core.evaluation.strategy import StrategySettings, follow_the_report, league_prices

__all__ = [
    "DriftRules",
    "StrategySettings",
    "average_scorecards",
    "backtest_league",
    "band_verdict",
    "follow_the_report",
    "horizon_summary",
    "league_order",
    "league_prices",
    "realized_points",
    "rolling_backtest",
    "score_realized",
    "scorecard_chart_png",
    "strategy_chart_png",
    "train_leagues_for",
]
