"""Markets the local POE Watch server serves: simulated (seeded, endless) or replayed from poe.ninja dumps.

Both answer the three endpoints the project uses, in POE Watch's shapes: ``leagues()``,
``items(league, category, at)`` and ``history(league, item_id, at)``. Prices change once per
``recompute_seconds`` of simulated time (POE Watch recomputes hourly, so most 5-minute polls see an
unchanged payload); within one period the payload is byte-for-byte identical.
"""

import hashlib
import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl

from poeconomy_assets.core.ingest import GO_ZERO_TIME, parse_timestamp, read_dump_dir
from poeconomy_assets.sim.simulator import REAL_CURRENCIES

FRAGMENT_WORDS = ("Breachstone", "Blessing", "Splinter", "Fragment")
DEFAULT_LEAGUES = [
    {"name": "Simulated", "start_date": "2025-06-13T20:00:00Z", "end_date": GO_ZERO_TIME},
    {"name": "Hardcore Simulated", "start_date": "2025-06-13T20:00:00Z", "end_date": GO_ZERO_TIME},
    {"name": "Standard", "start_date": "2013-01-23T21:00:00+01:00", "end_date": GO_ZERO_TIME},
]


def category_of(name: str) -> str:
    return "fragment" if any(word in name for word in FRAGMENT_WORDS) else "currency"


def _unit(*parts: object) -> float:
    """A deterministic number in [-1, 1) from the parts (stable across processes, unlike hash())."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**63 - 1.0


def _row(
    item_id: int, name: str, mean: float, low_confidence: bool, daily: int, history: list[float]
) -> dict:
    mean = round(mean, 4)
    return {
        "id": item_id,
        "name": name,
        "category": category_of(name),
        "group": "stackable",
        "frame": 5,
        "influences": "",
        "icon": f"https://web.poecdn.com/image/{item_id}.png?w=1\u0026h=1",
        "mean": mean,
        "min": round(mean * 0.93, 4),
        "max": round(mean * 1.08, 4),
        "exalted": None,
        "divine": None,
        "daily": daily,
        "change": 0.0,
        "history": history,
        "lowConfidence": low_confidence,
        "implicits": None,
        "explicits": None,
        "itemLevel": 0,
        "width": 1,
        "height": 1,
    }


class SimulatedMarket:
    """Seeded prices for the simulator's real currencies in every league of ``leagues``."""

    def __init__(
        self,
        n_currencies: int = 8,
        seed: int = 7,
        leagues: list[dict] | None = None,
        recompute_seconds: int = 3600,
    ):
        self.currencies = [
            (i + 1, name, price) for i, (name, price) in enumerate(REAL_CURRENCIES[:n_currencies])
        ]
        self.seed = seed
        self.league_list = list(leagues or DEFAULT_LEAGUES)
        self.recompute_seconds = recompute_seconds

    def leagues(self) -> list[dict]:
        return self.league_list

    def _start(self, league: str) -> datetime | None:
        for entry in self.league_list:
            if entry.get("name") == league:
                return parse_timestamp(entry.get("start_date"))
        return None

    def price(self, league: str, name: str, typical: float, at: datetime) -> float:
        start = self._start(league) or datetime(2025, 1, 1, tzinfo=UTC)
        bucket = int(at.timestamp() // self.recompute_seconds)
        days = max(0.0, (at - start).total_seconds() / 86400)
        launch = 0.6 * _unit(self.seed, name, "launch") * math.exp(-days / 7)
        weekly = 0.08 * math.sin(2 * math.pi * days / 7 + 3 * _unit(self.seed, name, "phase"))
        drift = 0.004 * _unit(self.seed, name, "drift") * days
        noise = 0.03 * _unit(self.seed, league, name, bucket)
        return typical * math.exp(launch + weekly + drift + noise)

    def items(self, league: str, category: str, at: datetime) -> list[dict] | None:
        start = self._start(league)
        if start is None or at < start:
            return None  # like POE Watch for an unknown league: no data
        at = datetime.fromtimestamp(at.timestamp() // self.recompute_seconds * self.recompute_seconds, UTC)
        rows = []
        for item_id, name, typical in self.currencies:
            if category_of(name) != category:
                continue
            history = [
                round(self.price(league, name, typical, at - timedelta(days=d)), 4) for d in range(7, 0, -1)
            ]
            low = _unit(self.seed, league, name, "low", at.timestamp() // 86400) > 0.9
            daily = int(200 + 3000 * (1 + _unit(self.seed, name, "volume")))
            rows.append(_row(item_id, name, self.price(league, name, typical, at), low, daily, history))
        return rows

    def history(self, league: str, item_id: int, at: datetime) -> list[dict] | None:
        start = self._start(league)
        match = [c for c in self.currencies if c[0] == item_id]
        if start is None or not match:
            return None
        _, name, typical = match[0]
        points = []
        day = start.date()
        while datetime.combine(day, time(22), UTC) < at - timedelta(days=1):
            moment = datetime.combine(day, time(22), UTC)
            points.append(
                {
                    "mean": round(self.price(league, name, typical, moment), 4),
                    "date": moment.isoformat().replace("+00:00", "Z"),
                    "id": 0,
                }
            )
            day += timedelta(days=1)
        return points


class DumpMarket:
    """Replays poe.ninja dumps: at simulated time ``at`` a league shows its prices of that calendar day."""

    def __init__(self, directory: Path):
        prices = read_dump_dir(Path(directory)).prices
        self.prices = prices
        names = sorted(prices["currency"].unique().to_list())
        self.ids = {name: i + 1 for i, name in enumerate(names)}
        spans = prices.group_by("league").agg(
            pl.col("date").min().alias("start"), pl.col("date").max().alias("end")
        )
        self.spans = {r["league"]: (r["start"], r["end"]) for r in spans.iter_rows(named=True)}

    def leagues(self) -> list[dict]:
        def stamp(day: date) -> str:
            return datetime.combine(day, time(0), UTC).isoformat().replace("+00:00", "Z")

        return [
            {"name": league, "start_date": stamp(start), "end_date": stamp(end + timedelta(days=1))}
            for league, (start, end) in sorted(self.spans.items(), key=lambda kv: kv[1][0])
        ]

    def items(self, league: str, category: str, at: datetime) -> list[dict] | None:
        if league not in self.spans:
            return None
        day = min(at.date(), self.spans[league][1])
        rows = self.prices.filter((pl.col("league") == league) & (pl.col("date") <= day)).sort("date")
        latest = rows.group_by("currency", maintain_order=True).last()
        out = []
        for r in latest.iter_rows(named=True):
            if category_of(r["currency"]) != category:
                continue
            history = (
                rows.filter(pl.col("currency") == r["currency"])["price_chaos"].tail(8).head(7).to_list()
            )
            out.append(
                _row(
                    self.ids[r["currency"]],
                    r["currency"],
                    r["price_chaos"],
                    r["confidence"] == "Low",
                    1000,
                    history,
                )
            )
        return out

    def history(self, league: str, item_id: int, at: datetime) -> list[dict] | None:
        names = [n for n, i in self.ids.items() if i == item_id]
        if league not in self.spans or not names:
            return None
        rows = self.prices.filter(
            (pl.col("league") == league) & (pl.col("currency") == names[0]) & (pl.col("date") < at.date())
        ).sort("date")
        return [
            {"mean": r["price_chaos"], "date": f"{r['date'].isoformat()}T22:00:00Z", "id": 0}
            for r in rows.iter_rows(named=True)
        ]
