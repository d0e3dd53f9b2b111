"""Which items (currencies) get forecasting models, and why each of the others does not.

Rules, applied in order (the first that fails is the recorded reason):
1. it trades in the live (latest) league: nobody needs a forecast for an item that no longer trades;
2. an explicit list, when given, must name it;
3. enough history: ``min_days`` priced days over all leagues, of which at least ``min_reliable_rows``
   are not Low confidence (poe.ninja marks a price from a handful of listings Low);
4. worth forecasting (average price ≥ ``min_avg_price`` chaos, off by default: relative MAE is
   scale-free; in the ``high_value`` profile, a floor of 10 chaos).

The graph applies it when it registers item partitions (``poe_ninja_history``), the backtest when it
picks the items to score (training leagues as history, the test league as the live one).
"""

from dataclasses import dataclass, field

import polars as pl

from poeconomy_assets.core.prices import league_order

MIN_DAYS = 30  # a month of prices: at least one league past its launch weeks
MIN_RELIABLE_ROWS = 20  # of them, days not marked Low confidence
MIN_AVG_PRICE = 0.0  # chaos; e.g. 0.25 drops items whose poe.ninja rounding is as large as a typical move
HIGH_VALUE_MIN_AVG_PRICE = 10.0


@dataclass(frozen=True)
class SelectionConfig:
    profile: str = "all"  # "all" or "high_value"
    min_days: int = MIN_DAYS
    min_reliable_rows: int = MIN_RELIABLE_ROWS
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


def select_currencies(
    prices: pl.DataFrame, config: SelectionConfig | None = None, live_items: set[str] | None = None
) -> Selection:
    """Currencies to model from DailyPrices rows of every league, and a reason for each one left out.

    ``live_items``: the items trading in the live league when ``prices`` holds only the history (a
    backtest: the training leagues); by default the items of ``prices``' live league."""
    config = config or SelectionConfig()
    if config.profile not in ("all", "high_value"):
        raise ValueError(f"unknown selection profile {config.profile!r} (expected 'all' or 'high_value')")
    if prices.is_empty():
        return Selection([], {}, config.live_league)
    live = config.live_league or league_order(prices)[-1]
    floor = (
        max(config.min_avg_price, HIGH_VALUE_MIN_AVG_PRICE)
        if config.profile == "high_value"
        else config.min_avg_price
    )
    reliable = (pl.col("confidence") != "Low").sum() if "confidence" in prices.columns else pl.len()
    stats = (
        prices.group_by("currency")
        .agg(
            pl.col("date").n_unique().alias("days"),
            pl.len().alias("rows"),
            reliable.alias("reliable"),
            pl.col("price_chaos").mean().alias("avg_price"),
            (pl.col("league") == live).any().alias("in_live"),
        )
        .sort("currency")
    )
    if live_items is not None:
        stats = stats.with_columns(pl.col("currency").is_in(sorted(live_items)).alias("in_live"))
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
        elif row["reliable"] < config.min_reliable_rows:
            excluded[name] = (
                f"only {row['reliable']} priced days not marked Low confidence "
                f"(need {config.min_reliable_rows})"
            )
        elif row["avg_price"] < floor:
            excluded[name] = f"average price {row['avg_price']:.3g}c is below {floor:g}c" + (
                " (high-value profile)" if config.profile == "high_value" else ""
            )
        else:
            selected.append(name)
    for name in sorted(unknown):
        excluded[name] = "in the explicit list but has no price history"
    for name in sorted((live_items or set()) - set(stats["currency"].to_list()) - set(excluded)):
        excluded[name] = "no price history before the live league"
    return Selection(selected, excluded, live)
