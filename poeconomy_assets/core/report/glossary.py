"""What every number of the report means and how it is computed, in a trader's words.

The same glossary goes into the HTML page, the CSV (as ``#`` comment lines) and JSON exports, and the
Dagster UI metadata of ``investment_report``.
"""

GLOSSARY: dict[str, str] = {
    "Median return": "Where the price should be at the end of the horizon, as a change from today's price: half "
    "the outcomes the model expects are above it, half below. It is the forecast's centre, read "
    "from the same forecast distribution as every range and probability below.",
    "P(gain)": "The chance that selling at the end of the horizon, at that day's bid, beats what you pay today "
    "at the ask (ticks included). Read from the forecast distribution, which is calibrated on walk-forward "
    "errors the model made on leagues it had not seen. Above 50% exactly when the median return beats "
    "the cost. 'unknown' when the model has too few past errors to say.",
    "80% range": "The low and high price the forecast gives four chances in five: one time in ten the price "
    "ends below the low, one time in ten above the high. The 95% range is the same for 19 times "
    "in 20 and always contains the 80% range; both widen with the horizon.",
    "Forecast: model or no change": "model: the forecast is the model's move, because on its validation days "
    "(earlier leagues, never the one forecast) it beat 'no change' by more than noise (a Diebold-Mariano "
    "test at 10%). no change: it did not prove that skill, so the forecast is today's price and the ranges "
    "are those of 'no change'; such an item is never bought for its forecast. The reason column gives the "
    "days, the model's relative MAE on them and the test's p-value.",
    "Downside": "The change from today's price to the low end of the 80% range: a bad but not extreme case "
    "(one chance in ten of worse).",
    "Cost": "What a round trip loses at an unchanged price: you buy at the ask (the sell side) and sell at the "
    "bid (the buy side), so you pay the median gap between them over the last 7 days, plus the tick "
    "(an item worth a chaos or more changes hands for whole chaos, which costs most at 1-5 c). A day "
    "without a bid counts at a conservative spread from comparable items (never zero); a crossed quote "
    "(bid above ask) is a data problem, priced on the worse side, never a discount. Only days with both "
    "sides at High confidence are bought; positions are whole units, at most 250 c x depth (the share of "
    "the last 14 days the item was tradable) and at least 10 c.",
    "Edge": "The median forecast's return net of the whole round trip (buy at the ask, sell at the bid, ticks). The report buys nothing whose edge is below the minimum edge.",
    "Score": "Edge divided by the forecast's uncertainty (the spread its 80% range implies, like a standard "
    "deviation): gain per unit of risk. Currencies are ranked by it; a positive score always comes "
    "with P(gain) above 50%.",
    "Volatility": "The standard deviation of daily log price changes over the last 14 days.",
    "Liquidity": "0 to 1: the share of the last 14 days with a price × the share of those prices the source "
    "did not mark low-confidence (× traded volume against the league's median item, when the "
    "source reports volume). Below the minimum, the report does not buy.",
    "Data quality": "ok, sparse (more than 30% of the last 14 days unpriced), low confidence (more than 30% of "
    "prices marked low-confidence), suspect quote (today's price more than 3× away from its 14-day "
    "median: likely a glitch, never bought) or insufficient (fewer than 5 priced days: no "
    "figures).",
    "Diversification": "1 minus the average positive correlation of the currency's daily price changes with the "
    "other candidates over the last 30 days: 1 moves on its own, 0 moves with the rest.",
    "Allocation": "Among currencies that clear every rule, the best scores get a share of the budget "
    "proportional to diversification / uncertainty (inverse volatility): calm, independent "
    "currencies get more. No currency gets more than the cap; the rest stays in chaos.",
    "Hold chaos": "When no currency clears the costs (minimum edge, P(gain) above 50%, a tradable quote, the "
    "liquidity rule), the report buys nothing, says why, and says what to hold: divines when the "
    "Divine Orb's median forecast rises against chaos (keep those you hold, buy none), else chaos.",
    "Track record": "What following this report would have made on a past league the models never saw: each "
    "week, buy what the report said at that day's ask, sell a week later at that day's bid, whole "
    "units, no compounding. Compared under the same execution with holding chaos (0%), holding "
    "divines, an equal-weight basket of the tradable items and perfect foresight.",
    "Percentages": "Every return, probability and share is a fraction in the JSON and CSV (0.0161 = 1.61%); the "
    "page shows them as percentages.",
}


def glossary_markdown() -> str:
    return "\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY.items())


def glossary_comment_lines() -> list[str]:
    """The glossary as CSV comment lines (``# term: text``)."""
    return [f"# {term}: {text}" for term, text in GLOSSARY.items()]
