"""A seeded market simulator that writes leagues in the poe.ninja dump format.

Leagues have the shape real ones have: a launch spike (expensive orbs) or launch scarcity (cheap
orbs) that fades over the first weeks, inflation or deflation through the league, a weekly rhythm,
multiplicative noise with occasional jumps, missing days, and currencies that only exist from a
later league on. Each currency keeps a similar profile from league to league (as in the real data),
so cross-league features have something to learn. Vectorised: 500 currencies × 20 leagues take seconds.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

# (name, typical chaos price at mid-league) — real currencies first, generated names after.
REAL_CURRENCIES: list[tuple[str, float]] = [
    ("Divine Orb", 12.0),
    ("Exalted Orb", 60.0),
    ("Orb of Alchemy", 0.3),
    ("Chromatic Orb", 0.12),
    ("Orb of Fusing", 0.45),
    ("Xoph's Breachstone", 40.0),
    ("Chayula's Breachstone", 90.0),
    ("Blessing of Chayula", 60.0),
    ("Armourer's Scrap", 0.03),
    ("Mirror of Kalandra", 9000.0),
    ("Orb of Regret", 0.9),
    ("Vaal Orb", 0.8),
    ("Gemcutter's Prism", 1.2),
    ("Orb of Scouring", 0.6),
    ("Jeweller's Orb", 0.1),
    ("Cartographer's Chisel", 0.4),
]
LEAGUE_WORDS = [
    "Abyssal",
    "Breach",
    "Chimera",
    "Delve",
    "Ember",
    "Frost",
    "Gloom",
    "Harbor",
    "Ivory",
    "Jade",
    "Kiln",
    "Lumen",
    "Mire",
    "Nadir",
    "Onyx",
    "Pyre",
    "Quill",
    "Rune",
    "Shard",
    "Tide",
]
SYLLABLES = ["ka", "lo", "mir", "th", "vex", "an", "dor", "el", "ish", "gal", "ru", "sen", "tor", "ul", "yra"]
KINDS = ["Orb", "Shard", "Catalyst", "Essence", "Oil", "Fossil", "Splinter", "Sextant"]


@dataclass(frozen=True)
class SimulationConfig:
    n_leagues: int = 6
    n_currencies: int = 10
    seed: int = 7
    start: date = date(2019, 1, 1)
    min_days: int = 60
    max_days: int = 100
    missing_rate: float = 0.02
    late_share: float = 0.2  # share of currencies (beyond the first three) introduced in a later league


def currency_names(n: int, seed: int) -> list[str]:
    """Real names first, then unique generated ones ("Kalomir Orb")."""
    names = [name for name, _ in REAL_CURRENCIES[:n]]
    rng = np.random.default_rng(seed + 1)
    seen = set(names)
    while len(names) < n:
        word = "".join(rng.choice(SYLLABLES, size=rng.integers(2, 4))).capitalize()
        name = f"{word} {rng.choice(KINDS)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _league_names(n: int) -> list[str]:
    return [f"Sim{i + 1:02d} {LEAGUE_WORDS[i % len(LEAGUE_WORDS)]}" for i in range(n)]


def simulate_prices(config: SimulationConfig) -> pl.DataFrame:
    """Every league's daily prices, as dump columns: League, Date, Get, Pay, Value, Confidence."""
    rng = np.random.default_rng(config.seed)
    n = config.n_currencies
    names = currency_names(n, config.seed)
    typical = np.array([dict(REAL_CURRENCIES).get(x, 0.0) for x in names])
    generated = typical == 0
    typical[generated] = np.exp(rng.uniform(np.log(0.05), np.log(300.0), generated.sum()))
    log_base = np.log(typical)
    expensive = (log_base - np.median(log_base)) / (np.std(log_base) + 1e-9)

    # Currency profiles, stable across leagues (what makes one league informative about the next).
    launch_amp = np.clip(
        0.5 * expensive + rng.normal(0, 0.35, n), -1.2, 1.6
    )  # >0 spike, <0 scarcity discount
    launch_tau = rng.uniform(3.0, 12.0, n)
    drift = 0.004 * expensive + rng.normal(0, 0.003, n)  # per day: rich orbs inflate, cheap ones deflate
    weekly_amp = rng.uniform(0.0, 0.05, n)
    vol = rng.uniform(0.015, 0.06, n)
    intro = np.zeros(n, dtype=int)
    late = rng.random(n) < config.late_share
    late[:3] = False
    intro[late] = rng.integers(1, max(2, config.n_leagues), late.sum())

    frames = []
    start = config.start
    for league_index, league in enumerate(_league_names(config.n_leagues)):
        days = int(rng.integers(config.min_days, config.max_days + 1))
        t = np.arange(days, dtype=float)
        level = log_base + rng.normal(0, 0.15, n)
        amp = launch_amp * rng.uniform(0.7, 1.3, n)
        walk = np.cumsum(rng.normal(0, 1, (n, days)) * vol[:, None], axis=1)
        walk -= walk[:, [0]]
        jumps = np.cumsum((rng.random((n, days)) < 0.01) * rng.normal(0, 0.25, (n, days)), axis=1)
        weekday = (start.weekday() + t) % 7
        log_price = (
            level[:, None]
            + amp[:, None] * np.exp(-t[None, :] / launch_tau[:, None])
            + drift[:, None] * (t[None, :] - days / 2)
            + weekly_amp[:, None] * np.sin(2 * np.pi * weekday[None, :] / 7)
            + 0.6 * walk
            + jumps
        )
        present = (intro <= league_index)[:, None] & (rng.random((n, days)) >= config.missing_rate)
        cur_idx, day_idx = np.nonzero(present)
        low = rng.random(cur_idx.size) < 0.03
        frames.append(
            pl.DataFrame(
                {
                    "League": np.full(cur_idx.size, league),
                    "Date": np.datetime64(start) + day_idx.astype("timedelta64[D]"),
                    "Get": np.asarray(names, dtype=object)[cur_idx],
                    "Pay": np.full(cur_idx.size, "Chaos Orb"),
                    "Value": np.round(np.exp(log_price[cur_idx, day_idx]), 5).clip(min=1e-5),
                    "Confidence": np.where(low, "Low", "High"),
                }
            ).with_columns(pl.col("Date").cast(pl.Date))
        )
        start = start + timedelta(days=days + int(rng.integers(2, 8)))
    return pl.concat(frames).sort("League", "Date", "Get")


def write_dumps(config: SimulationConfig, out_dir: Path) -> list[Path]:
    """Write one ``{League}.currency.csv`` per simulated league; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for (league,), rows in simulate_prices(config).group_by("League", maintain_order=True):
        path = out_dir / f"{league}.currency.csv"
        rows.write_csv(path, separator=";", date_format="%Y-%m-%d")
        paths.append(path)
    return paths
