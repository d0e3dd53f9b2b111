"""Which currencies get forecasting models, and why each of the others does not.

Rules, applied in order (the first that fails is the recorded reason):
1. it trades in the live (latest) league: nobody needs a forecast for a currency that no longer trades;
2. an explicit list, when given, must name it;
3. enough history (``min_days`` priced days over all leagues);
4. worth forecasting (average price ≥ ``min_avg_price`` chaos; in the ``high_value`` profile, a
   higher floor).
"""

from dataclasses import dataclass, field

import polars as pl

from poeconomy_assets.core.prices import league_order

MIN_DAYS = 60
MIN_AVG_PRICE = 0.25  # chaos: below this, rounding on poe.ninja is as large as a typical move
HIGH_VALUE_MIN_AVG_PRICE = 10.0


@dataclass(frozen=True)
class SelectionConfig:
    profile: str = "all"  # "all" or "high_value"
    min_days: int = MIN_DAYS
    min_avg_price: float = MIN_AVG_PRICE
    currencies: tuple[str, ...] = ()  # explicit list; empty means every currency that passes
    live_league: str | None = None  # default: the league with the latest start date


@dataclass(frozen=True)
class Selection:
    selected: list[str]
    excluded: dict[str, str] = field(default_factory=dict)  # currency -> reason
    live_league: str | None = None

    def as_metadata(self) -> dict:
        return {"live_league": self.live_league, "selected": self.selected, "excluded": self.excluded}


def select_currencies(prices: pl.DataFrame, config: SelectionConfig | None = None) -> Selection:
    """Currencies to model from DailyPrices rows of every league, and a reason for each one left out."""
    config = config or SelectionConfig()
    if config.profile not in ("all", "high_value"):
        raise ValueError(f"unknown selection profile {config.profile!r} (expected 'all' or 'high_value')")
    if prices.is_empty():
        return Selection([], {}, config.live_league)
    live = config.live_league or league_order(prices)[-1]
    floor = max(config.min_avg_price, HIGH_VALUE_MIN_AVG_PRICE) if config.profile == "high_value" else config.min_avg_price
    stats = prices.group_by("currency").agg(
        pl.col("date").n_unique().alias("days"),
        pl.len().alias("rows"),
        pl.col("price_chaos").mean().alias("avg_price"),
        (pl.col("league") == live).any().alias("in_live"),
    ).sort("currency")
    wanted = set(config.currencies)
    unknown = wanted - set(stats["currency"].to_list())
    selected, excluded = [], {}
    for row in stats.iter_rows(named=True):
        name = row["currency"]
        if not row["in_live"]:
            excluded[name] = f"not traded in the live league {live!r}"
        elif wanted and name not in wanted:
            excluded[name] = "not in the explicit currency list"
        elif row["rows"] < config.min_days:
            excluded[name] = f"only {row['rows']} priced days (need {config.min_days})"
        elif row["avg_price"] < floor:
            excluded[name] = (f"average price {row['avg_price']:.3g}c is below {floor:g}c"
                              + (" (high-value profile)" if config.profile == "high_value" else ""))
        else:
            selected.append(name)
    for name in sorted(unknown):
        excluded[name] = "in the explicit list but has no price history"
    return Selection(selected, excluded, live)
