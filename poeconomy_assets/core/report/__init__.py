"""What a trader reads: the investment report of a league, the budget allocation, rebalancing triggers, data-quality
grades, charts and the small markdown tables shown in Dagster metadata."""
