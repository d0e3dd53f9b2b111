"""What each table column means, in a sentence: the column descriptions the UI shows beside every table asset
(``dagster/column_schema``), one place for the same column in every table.

Exact names first, then name patterns (a horizon or a window in the name, e.g. ``low80_chaos_7d``, ``vol_14d``).
"""

import re

EXACT = {
    "league": "League name (a past league from the poe.ninja dumps, or a live one from POE Watch)",
    "currency": "Currency item, by its canonical name",
    "date": "Day (UTC) the price is for",
    "as_of": "Day the forecast was made on: it uses prices up to and including this day",
    "horizon": "How far ahead: 1d, 3d or 7d",
    "league_day": "Days since the league started (0 = launch day)",
    "days_since_start": "Days since the league started",
    "league_index": "Order of the league among all leagues (0 = oldest)",
    "league_phase": "Phase of the league: launch, early, mid or late",
    "week_in_league": "Week of the league (0 = launch week)",
    "day_of_week": "Day of the week (0 = Monday)",
    "price_chaos": "Price in chaos orbs (poe.ninja's sell-side value, or POE Watch's mean)",
    "price_divine": "Price in divine orbs (chaos price / the Divine Orb's chaos price that day)",
    "log_price": "Natural log of the chaos price",
    "divine_chaos": "The Divine Orb's chaos price on that day (used to convert to divines)",
    "buy_price_chaos": "Buy-side price in chaos (1 / Value of the row where Get = Chaos Orb), when listed",
    "buy_confidence": "poe.ninja's confidence in the buy-side price (High, Medium, Low)",
    "confidence": "poe.ninja's confidence in the sell-side price (High, Medium, Low)",
    "spread": "Relative gap between the sell-side and buy-side prices (null without a buy side)",
    "log_spread": "Log of the sell-side / buy-side price ratio",
    "spread_known": "1 when both sides were listed that day",
    "spread_change_1d": "Change of the spread since the day before",
    "spread_mean_7d": "Mean spread over the last 7 days",
    "spread_gap_7d": "Spread today minus its 7-day mean",
    "source": "Where the row came from (poe.ninja dumps or POE Watch)",
    "volume": "Listings counted by POE Watch that day (live leagues only)",
    "low_confidence_share": "Share of the day's snapshots POE Watch marked low-confidence",
    "since_launch": "Log return since the league's first price of this currency",
    "market_since_launch": "Median log return since launch over every currency (the whole market)",
    "forecast_chaos": "Forecast price in chaos (the median of the forecast distribution)",
    "forecast_divine": "Forecast price in divines",
    "expected_return": "Forecast median return over the horizon (0.05 = +5%)",
    "forecast_source": "model (live forecast), walk_forward (made without seeing the outcome) or in_sample",
    "actual_chaos": "The price the horizon later turned out to have (null while unknown)",
    "lower_50": "Lower end of the 50% interval, chaos", "upper_50": "Upper end of the 50% interval, chaos",
    "lower_80": "Lower end of the 80% interval, chaos", "upper_80": "Upper end of the 80% interval, chaos",
    "lower_95": "Lower end of the 95% interval, chaos", "upper_95": "Upper end of the 95% interval, chaos",
    "prob_up": "Probability that the price is higher after the horizon (from the same distribution)",
    "prob_up_reason": "Why P(up) is what it is when it is not read from calibrated residuals",
    "interval_method": "How the intervals were calibrated (own residuals, pooled, widened, ...)",
    "calibration_n": "Walk-forward residuals the intervals were calibrated on",
    "validation_mase": "Relative MAE of the model on its validation days (model MAE / persistence MAE)",
    "mase": "Relative MAE: model MAE / persistence MAE (below 1 beats 'no change')",
    "rank": "Rank in the report (1 = best score)",
    "score": "Risk-adjusted score the report ranks by",
    "edge": "Median return after the whole round trip's costs",
    "cost": "Round-trip cost: buy at the ask, sell at the bid, plus the price tick",
    "liquidity": "0..1: days priced in the last 14 × share not low-confidence",
    "depth": "Depth proxy for the position cap: share of the last 14 days the item was tradable",
    "tradable": "Both sides listed at High confidence today (only such days are bought)",
    "units": "Whole units to buy",
    "entry_price": "Price paid per unit (today's ask)",
    "allocation_chaos": "Chaos allocated to the currency", "allocation_divine": "Divines allocated to the currency",
    "allocation_note": "Why the currency got (or did not get) an allocation",
    "diversification": "1 − the highest correlation with what was bought before it",
    "data_quality": "ok, or what is wrong with the currency's prices", "data_quality_reason": "Why, in words",
    "rebalance": "The rebalancing trigger that fired", "drift": "Whether the forecasts drifted",
    "drift_reason": "Why the drift check flagged it", "coverage_80": "Share of outcomes inside the 80% interval",
    "coverage_95": "Share of outcomes inside the 95% interval",
    "mean_relative_width": "Mean width of the 80% interval relative to the price",
    "direction_accuracy": "Share of days the forecast got the direction right", "mape": "Mean absolute % error",
    "n": "Number of points scored", "first_as_of": "First forecast day scored", "last_as_of": "Last forecast day scored",
    "days_observed": "Days with a price", "scale": "Volatility scale of the residual (for scaled conformal bands)",
    "target": "The actual log return (persistence's residual)", "residual": "Actual minus forecast log return",
    "sigma": "Volatility used to scale the bands", "volatility": "Recent daily volatility of log returns",
    "weight": "Weight in the ensemble or the allocation", "bands": "The forecast bands as a text fan",
}

PATTERNS = [
    (r"(target_)?ret_(\d+d)", "Log return over the last {2}"),
    (r"std_(\d+d)", "Standard deviation of daily log returns over the last {1}"),
    (r"vol_(\d+d)", "Volatility of daily log returns over the last {1}"),
    (r"vol_of_vol_(\d+d)", "Volatility of the volatility over the last {1}"),
    (r"vol_ratio_(\d+d)", "Recent volatility / the {1} volatility"),
    (r"trend_(\d+d)", "Slope of log price over the last {1}"),
    (r"momentum_vol_(\d+d)", "{1} return divided by {1} volatility"),
    (r"(max|min|mean|median)_gap_(\d+d)", "{1} of the price's gap to its {2} path"),
    (r"market_ret_(\d+d)", "Median {1} log return of every currency (the market)"),
    (r"excess_ret_(\d+d)", "{1} log return minus the market's"),
    (r"buy_ret_(\d+d)", "{1} log return of the buy-side price"),
    (r"(market_)?profile_(\d+d)_(all|recent)", "Typical {2} log return at this league day ({3} leagues)"),
    (r"(level|path)_gap_(all|recent)", "Gap between the price and its typical {1} at this league day ({2} leagues)"),
    (r"typical_path_(all|recent)", "Typical log price path at this league day ({1} leagues)"),
    (r"target_logret_(\d+d)", "Target: log return over the next {1} (null while unknown)"),
    (r"target_price_(\d+d)", "Target: the chaos price {1} later"),
    (r"target_up_(\d+d)", "Target: 1 if the price is higher {1} later"),
    (r"target_change_(\d+d)", "Target: 1 if the price changed at all {1} later"),
    (r"(lower|upper)_(50|80|95)_divine", "{1} end of the {2}% interval, divines"),
    (r"forecast_(chaos|divine)_(\d+d)", "Forecast price in {1} over {2}"),
    (r"(low|high)(80|95)_chaos_(\d+d)", "{1} end of the {2}% range in chaos over {3}"),
    (r"return_(\d+d)", "Median return over {1} before costs (0.05 = +5%)"),
    (r"downside_(\d+d)", "5% worst-case return over {1}"),
    (r"p_gain_(\d+d)", "Probability of a gain over {1} after the round trip's costs"),
    (r"p_gain_reason_(\d+d)", "Why P(gain) over {1} is what it is"),
    (r"p_up_(\d+d)", "Probability that the price is higher after {1}"),
    (r"interval_method_(\d+d)", "How the {1} intervals were calibrated"),
]


def describe_column(name: str) -> str:
    """A sentence on what ``name`` holds ("" when this module does not know the column)."""
    if name in EXACT:
        return EXACT[name]
    for pattern, template in PATTERNS:
        match = re.fullmatch(pattern, name)
        if match:
            return template.format(name, *(g or "" for g in match.groups())).strip().capitalize()
    return ""
