"""The prices one really gets: one execution model for the report, its allocation and the track record.

A day's quote of an item has two sides (see ``core.ingest.dumps``): the **ask** (``price_chaos``, the sell
side: what one unit costs in chaos) and the **bid** (``buy_price_chaos``, 1 / Value of the row where Get =
Chaos Orb: what one unit fetches in chaos), each with its own confidence. The rules:

- **Buy at the day's ask, sell at the exit day's bid.** Never the other way round, never the mid.
- **Tradable days only.** A buy needs both sides quoted that day, both at High confidence.
- **A crossed quote (bid >= ask) is a data problem, never a discount.** Both legs are priced on the worse
  side: a buy at the higher of the two, a sale at the lower; for the report's costs a crossed day counts at
  its gap |1 − bid/ask| (at least MIN_QUOTED_SPREAD), never at zero and never as a gain.
- **A missing bid** is replaced by the ask less a *conservative spread* (a bid below High confidence: the
  lower of that bid and the ask less the spread): the ``FALLBACK_QUANTILE`` quantile of the valid spreads of comparable items (same power of ten of
  price) over the last ``COMPARABLE_DAYS`` days, never below ``MIN_SPREAD``; ``ASSUMED_SPREAD`` where the prices
  carry no bid at all (simulated or single-sided sources).
- **The tick is a cost.** A unit worth a chaos or more changes hands for whole chaos (buy: rounded up, sell:
  rounded down), which costs most at 1–5 c; below a chaos, items trade as whole units per chaos (buy: as many
  whole units as one chaos buys at the ask, sell: as many as the bid asks for one chaos).
- **Depth.** Nobody can buy 22,000 of a cheap item nor 0.0016 of a Mirror: positions are whole units, at most
  ``MAX_POSITION_CHAOS`` × the item's *depth*, and at least ``MIN_POSITION_CHAOS``. The depth proxy is the
  share of the last ``DEPTH_DAYS`` days on which the item was tradable (both sides quoted at High confidence).
"""

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

FALLBACK_QUANTILE = 0.75  # a missing side costs what a wide (upper-quartile) comparable spread costs
COMPARABLE_DAYS = 14
MIN_COMPARABLES = 5  # fewer valid spreads in the price bucket: use every item's
MIN_SPREAD = 0.05  # a replaced side never costs less than this
MIN_QUOTED_SPREAD = 0.01  # a day's gap between the quoted sides counts as at least this
ASSUMED_SPREAD = 0.15  # no bid anywhere in the prices: the full dumps' typical spread (15–18%)
SPREAD_DAYS = 7  # an item's expected spread: the median of its last SPREAD_DAYS days
DEPTH_DAYS = 14
MAX_POSITION_CHAOS = 250.0  # at full depth
MIN_POSITION_CHAOS = 10.0
MAX_EXIT_DELAY_DAYS = 7  # no quote at all on the exit day: sell on the first quoted day within this many
TICK_EPSILON = 1e-9


@dataclass(frozen=True)
class Quote:
    """One item's quote on one day (None where a side is missing)."""

    ask: float | None
    bid: float | None
    ask_confidence: str | None = None
    bid_confidence: str | None = None
    one_sided: bool = False  # the source never quotes a bid (simulator, POE Watch): the ask alone decides

    @property
    def crossed(self) -> bool:
        return self.ask is not None and self.bid is not None and self.bid >= self.ask

    @property
    def tradable(self) -> bool:
        if self.one_sided:
            return self.ask is not None and self.ask > 0 and self.ask_confidence == "High"
        return (
            self.ask is not None
            and self.bid is not None
            and self.ask_confidence == "High"
            and self.bid_confidence == "High"
            and self.ask > 0
            and self.bid > 0
        )

    @property
    def confidence(self) -> str:
        return f"ask {self.ask_confidence or 'none'} / bid {self.bid_confidence or 'none'}"

    def why_not_tradable(self) -> str | None:
        if self.one_sided:
            return None if self.tradable else f"ask not at High confidence ({self.ask_confidence})"
        if self.ask is None or self.bid is None:
            return "one side of the market is not quoted"
        if self.ask_confidence != "High" or self.bid_confidence != "High":
            return f"not both sides at High confidence ({self.confidence})"
        return None


@dataclass(frozen=True)
class Fill:
    price: float  # chaos per unit actually paid or received, tick included
    side: str  # "ask", "bid" or "fallback: ..." with the reason
    reference: float  # the quoted price the fill is measured against (for cost_chaos)


def tick_up(price: float) -> float:
    """What one unit costs when buying at ``price``: whole chaos at a chaos or more, else whole units per chaos."""
    if price >= 1.0:
        return float(math.ceil(price - TICK_EPSILON))
    per_chaos = math.floor(1.0 / price + TICK_EPSILON)
    return 1.0 / per_chaos


def tick_down(price: float) -> float:
    """What one unit fetches when selling at ``price`` (0 when it is not worth a whole tick)."""
    if price <= 0:
        return 0.0
    if price >= 1.0:
        return float(math.floor(price + TICK_EPSILON))
    return 1.0 / math.ceil(1.0 / price - TICK_EPSILON)


def entry_fill(quote: Quote) -> Fill | None:
    """The buy: at the ask, ticked up (on a crossed quote at the worse side, the bid); None when the day is
    not tradable."""
    if not quote.tradable:
        return None
    if quote.crossed:
        return Fill(
            tick_up(max(quote.ask, quote.bid)), "bid: crossed quote, bought at the worse side", quote.ask
        )
    return Fill(tick_up(quote.ask), "ask", quote.ask)


def exit_fill(quote: Quote | None, fallback_spread: float) -> Fill:
    """The sale, ticked down: at the bid when it is quoted at High confidence and not crossed; on a crossed
    quote at the worse side (the lower of bid and ask); with no bid at the ask less ``fallback_spread`` (never
    below MIN_SPREAD); with a bid not at High confidence at the lower of that bid and the ask less the spread.
    Nothing quoted: written off at 0."""
    spread = max(fallback_spread, MIN_SPREAD)
    if quote is None or (quote.ask is None and quote.bid is None):
        return Fill(0.0, "fallback: no quote to sell at, written off", 0.0)
    if quote.crossed:
        worse = min(quote.ask, quote.bid)
        return Fill(tick_down(worse), "fallback: crossed quote, sold at the worse side (the ask)", worse)
    if quote.bid is not None and quote.bid_confidence == "High":
        return Fill(tick_down(quote.bid), "bid", quote.bid)
    if quote.ask is None:
        return Fill(
            tick_down(quote.bid * (1 - spread)),
            f"fallback: bid at {quote.bid_confidence} confidence and no ask, less {100 * spread:.1f}%",
            quote.bid,
        )
    less = quote.ask * (1 - spread)
    if quote.bid is None:
        return Fill(tick_down(less), f"fallback: no bid quote, ask less {100 * spread:.1f}%", quote.ask)
    return Fill(
        tick_down(min(less, quote.bid)),
        f"fallback: bid at {quote.bid_confidence} confidence, the lower "
        f"of it and the ask less {100 * spread:.1f}%",
        quote.ask,
    )


def round_trip_cost(quote: Quote, spread: float) -> float:
    """The share of the buy price lost on a round trip when the price does not move: buy at the ask (ticked),
    sell at the ask less ``spread`` (ticked)."""
    if quote.ask is None or quote.ask <= 0:
        return float("nan")
    entry = tick_up(quote.ask)
    return 1.0 - tick_down(quote.ask * (1 - spread)) / entry


# ---- frame versions (one row per item and day), used by the report and the track record ----


def is_one_sided(prices: pl.DataFrame) -> bool:
    """True when ``prices`` never quote a bid (the source has one side only)."""
    return "buy_price_chaos" not in prices.columns or not prices["buy_price_chaos"].is_not_null().any()


def with_quote_columns(prices: pl.DataFrame) -> pl.DataFrame:
    """``prices`` with ``bid`` (null when the source has no buy side), ``bid_confidence``, ``crossed``,
    ``tradable``, ``spread`` (1 − bid/ask, null on crossed or one-sided quotes: what the fallback is estimated
    from) and ``gap`` (|1 − bid/ask|, at least MIN_QUOTED_SPREAD: what a round trip at that quote loses with
    both legs on the worse side; null without a bid)."""
    frame = prices
    if "buy_price_chaos" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("buy_price_chaos"))
    if "buy_confidence" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("buy_confidence"))
    if "confidence" not in frame.columns:
        frame = frame.with_columns(pl.lit("High").alias("confidence"))
    bid, ask = pl.col("buy_price_chaos"), pl.col("price_chaos")
    crossed = bid.is_not_null() & (bid >= ask)
    one_sided = is_one_sided(frame)
    tradable = (
        (pl.col("confidence") == "High")
        if one_sided
        else (bid.is_not_null() & (pl.col("confidence") == "High") & (pl.col("buy_confidence") == "High"))
    )
    return frame.with_columns(
        crossed.alias("crossed"),
        tradable.alias("tradable"),
        pl.lit(one_sided).alias("one_sided"),
        pl.when(bid.is_not_null() & ~crossed).then(1 - bid / ask).alias("spread"),
        # what a round trip at an unchanged quote loses when both legs are priced on the worse side
        pl.when(bid.is_not_null())
        .then(pl.max_horizontal((1 - bid / ask).abs(), pl.lit(MIN_QUOTED_SPREAD)))
        .alias("gap"),
    )


def fallback_spreads(
    prices: pl.DataFrame, days: int = COMPARABLE_DAYS, assumed_spread: float = ASSUMED_SPREAD
) -> pl.DataFrame:
    """Per item: the conservative spread standing in for a missing or crossed side, from comparable items
    (same power of ten of price) over the last ``days`` days; ``fallback_source`` says which estimate."""
    quotes = with_quote_columns(prices)
    items = quotes.sort("date").group_by("currency").agg(pl.col("price_chaos").last().alias("_last"))
    items = items.with_columns(pl.col("_last").log10().floor().alias("_bucket"))
    if quotes.is_empty() or quotes["spread"].is_null().all():
        assumed = max(assumed_spread, MIN_SPREAD)
        return items.select(
            "currency",
            pl.lit(assumed).alias("fallback_spread"),
            pl.lit(f"assumed {100 * assumed:.0f}% (the prices carry no buy side)").alias("fallback_source"),
        )
    last = quotes["date"].max()
    recent = quotes.filter(
        (pl.col("date") > pl.lit(last) - pl.duration(days=days)) & pl.col("spread").is_not_null()
    ).with_columns(pl.col("price_chaos").log10().floor().alias("_bucket"))
    overall = recent["spread"].quantile(FALLBACK_QUANTILE) if recent.height else None
    overall = ASSUMED_SPREAD if overall is None else max(float(overall), MIN_SPREAD)
    buckets = recent.group_by("_bucket").agg(
        pl.col("spread").quantile(FALLBACK_QUANTILE).alias("_q"), pl.len().alias("_n")
    )
    return items.join(buckets, on="_bucket", how="left").select(
        "currency",
        pl.when(pl.col("_n") >= MIN_COMPARABLES)
        .then(pl.max_horizontal(pl.col("_q"), pl.lit(MIN_SPREAD)))
        .otherwise(pl.lit(overall))
        .alias("fallback_spread"),
        pl.when(pl.col("_n") >= MIN_COMPARABLES)
        .then(pl.lit(f"{FALLBACK_QUANTILE:.0%} quantile of comparable items' spreads"))
        .otherwise(pl.lit(f"{FALLBACK_QUANTILE:.0%} quantile of every item's spreads"))
        .alias("fallback_source"),
    )


def execution_costs(
    prices: pl.DataFrame, days: int = SPREAD_DAYS, assumed_spread: float = ASSUMED_SPREAD
) -> pl.DataFrame:
    """One row per item of ``prices`` (one league, up to the decision day): what buying it on the last day costs.

    ``entry_price`` (what ``entry_fill`` pays on the last day: the ask, or the worse side of a crossed quote,
    ticked up; the ticked ask on a day that is not tradable; null when the item is not quoted that day), ``tradable``
    and ``tradable_note`` (why not), ``spread`` (the median of the last ``days`` days' gaps between the sides,
    a one-sided day counting as the fallback spread, a crossed day as its gap: never below MIN_QUOTED_SPREAD,
    so a crossed quote is never a free trade), ``cost`` (the round trip
    at an unchanged price: spread and both ticks), ``cost_source``, ``fallback_spread`` and ``depth`` (share of
    the last DEPTH_DAYS days the item was tradable). Without any buy side in ``prices`` (simulated or one-sided
    sources) nothing is tradable by the rules above; every item then counts as tradable at its ask with the
    ``assumed_spread`` (depth: the share of the last DEPTH_DAYS days it was quoted at High confidence)."""
    quotes = with_quote_columns(prices).join(
        fallback_spreads(prices, assumed_spread=assumed_spread), on="currency", how="left"
    )
    if quotes.is_empty():
        return pl.DataFrame(
            schema={
                "currency": pl.Utf8,
                "entry_price": pl.Float64,
                "tradable": pl.Boolean,
                "tradable_note": pl.Utf8,
                "spread": pl.Float64,
                "cost": pl.Float64,
                "cost_source": pl.Utf8,
                "fallback_spread": pl.Float64,
                "depth": pl.Float64,
            }
        )
    last = quotes["date"].max()
    day_spread = pl.coalesce(pl.col("gap"), pl.col("fallback_spread"))
    window = quotes.filter(pl.col("date") > pl.lit(last) - pl.duration(days=days)).with_columns(
        day_spread.alias("_day_spread")
    )
    spreads = window.group_by("currency").agg(
        pl.col("_day_spread").median().alias("spread"),
        pl.col("spread").is_not_null().any().alias("_measured"),
    )
    depth = (
        quotes.filter(pl.col("date") > pl.lit(last) - pl.duration(days=DEPTH_DAYS))
        .group_by("currency")
        .agg((pl.col("tradable").sum() / DEPTH_DAYS).clip(0, 1).alias("depth"))
    )
    today = quotes.filter(pl.col("date") == last)
    notes = [
        Quote(
            r["price_chaos"], r["buy_price_chaos"], r["confidence"], r["buy_confidence"], r["one_sided"]
        ).why_not_tradable()
        for r in today.iter_rows(named=True)
    ]
    fills = [
        entry_fill(
            Quote(
                r["price_chaos"], r["buy_price_chaos"], r["confidence"], r["buy_confidence"], r["one_sided"]
            )
        )
        for r in today.iter_rows(named=True)
    ]
    today = today.select("currency", "price_chaos", "tradable", "fallback_spread").with_columns(
        pl.Series("tradable_note", notes, dtype=pl.Utf8),
        pl.Series("_fill", [None if f is None else f.price for f in fills], dtype=pl.Float64),
    )
    items = quotes.select("currency", "fallback_spread").unique("currency")
    frame = (
        items.join(today.drop("fallback_spread"), on="currency", how="left")
        .join(spreads, on="currency", how="left")
        .join(depth, on="currency", how="left")
        .with_columns(
            pl.col("spread").fill_null(pl.col("fallback_spread")),
            pl.col("tradable").fill_null(False),
            pl.col("depth").fill_null(0.0),
            pl.col("tradable_note").fill_null("not quoted on the decision day"),
        )
        .with_columns(
            pl.when(pl.col("tradable")).then(None).otherwise(pl.col("tradable_note")).alias("tradable_note")
        )
    )
    entry = [
        fill if fill is not None else None if p is None else tick_up(p)
        for fill, p in zip(frame["_fill"].to_list(), frame["price_chaos"].to_list())
    ]
    cost = [
        None if p is None else round_trip_cost(Quote(p, None), s)
        for p, s in zip(frame["price_chaos"].to_list(), frame["spread"].to_list())
    ]
    return frame.select(
        "currency",
        pl.Series("entry_price", entry, dtype=pl.Float64),
        "tradable",
        "tradable_note",
        "spread",
        pl.Series("cost", cost, dtype=pl.Float64),
        pl.when(pl.col("_measured").fill_null(False))
        .then(pl.lit("bid/ask spread and tick"))
        .otherwise(pl.lit("conservative fallback spread and tick"))
        .alias("cost_source"),
        "fallback_spread",
        "depth",
    )


def position_units(
    chaos: np.ndarray,
    entry_price: np.ndarray,
    depth: np.ndarray,
    max_position_chaos: float = MAX_POSITION_CHAOS,
    min_position_chaos: float = MIN_POSITION_CHAOS,
) -> np.ndarray:
    """Whole units for each planned ``chaos`` amount: at most ``max_position_chaos`` × depth worth, none when
    the position would be below ``min_position_chaos`` or a single unit."""
    chaos = np.nan_to_num(np.asarray(chaos, dtype=float))
    price = np.asarray(entry_price, dtype=float)
    cap = max_position_chaos * np.clip(np.nan_to_num(np.asarray(depth, dtype=float)), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        units = np.floor(np.minimum(chaos, cap) / price + TICK_EPSILON)
    units = np.where(np.isfinite(units) & (price > 0), units, 0.0)
    return np.where(units * np.nan_to_num(price) >= min_position_chaos, units, 0.0).astype(np.int64)


def tick_down_array(prices: np.ndarray) -> np.ndarray:
    """``tick_down`` of each price (NaN stays NaN)."""
    return np.array(
        [np.nan if not np.isfinite(p) else tick_down(float(p)) for p in np.asarray(prices, dtype=float)]
    )


def break_even_bid(entry_price: np.ndarray) -> np.ndarray:
    """The lowest exit bid whose ticked-down sale beats ``entry_price`` (a ticked buy price): one whole chaos
    more at a chaos or more; one unit fewer per chaos below."""
    entry = np.asarray(entry_price, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_chaos = np.round(1.0 / entry)
        below = np.where(per_chaos > 1, 1.0 / (per_chaos - 1), 1.0 + TICK_EPSILON)
    return np.where(entry >= 1.0, entry + 1.0, below)


def net_return(entry_price: np.ndarray, exit_ask: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """The round trip's return when the ask is ``exit_ask`` on the exit day and the bid ``spread`` below it."""
    exit_ask, spread = np.asarray(exit_ask, dtype=float), np.asarray(spread, dtype=float)
    return tick_down_array(exit_ask * (1 - spread)) / np.asarray(entry_price, dtype=float) - 1
