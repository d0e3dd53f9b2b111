"""How good forecasts were: scores always next to persistence, backtests on held-out leagues, the realized
scorecard of past forecasts and its charts."""
