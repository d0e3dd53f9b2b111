"""One currency identity across sources (POE Watch rows, poe.ninja dumps).

A raw name resolves to a canonical name by, in order: an exact known name; the same name up to case,
apostrophe style and whitespace; a known alias or rename. A name that is none of these but looks very much
like a known one (a typo, a spelling variant nobody listed) is a *near miss*: reported, never merged into the
known currency and never stored as a second currency beside it.
"""

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc\u0060\u00b4]")
_SPACES = re.compile(r"\s+")

# Spelling variants and renames seen across sources (keys are normalized with ``match_key``).
ALIASES: dict[str, str] = {
    "jewelers orb": "Jeweller's Orb",
    "armorers scrap": "Armourer's Scrap",
    "divine orbs": "Divine Orb",
    "chaos orbs": "Chaos Orb",
    "exalted orbs": "Exalted Orb",
    "annulment orb": "Orb of Annulment",
    "exalt": "Exalted Orb",
    "divine": "Divine Orb",
}
NEAR_MISS_RATIO = 0.88  # difflib ratio on match keys; "Orb of Regrett" vs "Orb of Regret" is 0.96

# The longest real name in 18 leagues of dumps has 36 characters; a name over this is refused, never stored.
MAX_NAME_LENGTH = 100
# C0/C1 controls (NUL included), zero-width and bidi controls, line/paragraph separators, BOM: never in a name.
FORBIDDEN_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def name_problem(name: str) -> str | None:
    """Why ``name`` (a currency, league or category) cannot be stored: ``name_too_long``, ``bad_name``, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return "name_too_long"
    if FORBIDDEN_IN_NAMES.search(name):
        return "bad_name"
    return None


def clean_name(raw: str) -> str:
    """Trimmed, with runs of whitespace collapsed and typographic apostrophes made plain."""
    return _SPACES.sub(" ", _APOSTROPHES.sub("'", unicodedata.normalize("NFC", raw))).strip()


def match_key(raw: str) -> str:
    """What two spellings of one name share: case-folded, apostrophes dropped, whitespace collapsed."""
    return clean_name(raw).replace("'", "").casefold()


@dataclass(frozen=True)
class Resolution:
    name: str  # the canonical name (or the cleaned raw name when it is new)
    changed: bool  # the canonical name differs from the raw one (beyond trimming)
    near_miss_of: str | None = None  # set when the name is quarantined as a near miss


class CurrencyResolver:
    """Resolves raw names against the currencies already known (e.g. the currency partitions)."""

    def __init__(self, known: Iterable[str], aliases: dict[str, str] | None = None):
        self._aliases = {match_key(k): v for k, v in {**ALIASES, **(aliases or {})}.items()}
        self._known: dict[str, str] = {}
        for name in known:
            self._known.setdefault(match_key(name), name)

    def resolve(self, raw: str) -> Resolution:
        cleaned = clean_name(raw)
        key = match_key(cleaned)
        if key in self._known:
            name = self._known[key]
            return Resolution(name, name != raw.strip())
        if key in self._aliases:
            name = self._aliases[key]
            self._known.setdefault(match_key(name), name)
            return Resolution(name, name != raw.strip())
        close = difflib.get_close_matches(key, list(self._known), n=1, cutoff=NEAR_MISS_RATIO)
        if close:
            return Resolution(cleaned, False, near_miss_of=self._known[close[0]])
        self._known[key] = cleaned  # new currency: later spellings of it in the same batch resolve to it
        return Resolution(cleaned, cleaned != raw.strip())

    def canonical_names(self, raw_names: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """(raw → canonical for every name that resolves, raw → known name for every near miss)."""
        resolved, near = {}, {}
        for raw in raw_names:
            result = self.resolve(raw)
            if result.near_miss_of is not None:
                near[raw] = result.near_miss_of
            else:
                resolved[raw] = result.name
        return resolved, near


@dataclass(frozen=True)
class Canonicalized:
    """Price rows with canonical currency names, and what changed."""

    prices: pl.DataFrame
    renamed: dict[str, str]  # raw -> canonical, only names that changed
    near_misses: dict[str, str]  # raw -> the known name it resembles (kept under its own name, reported)
    merged_duplicates: int  # rows dropped because two spellings gave one (league, currency, date)


def canonicalize_currencies(prices: pl.DataFrame, known: Iterable[str] = ()) -> Canonicalized:
    """Rename ``prices.currency`` to canonical names (oldest league first, so its spelling wins).

    Dump rows are history: a near miss is kept under its own name and reported rather than dropped.
    """
    resolver = CurrencyResolver(known)
    order = prices.group_by("currency").agg(pl.col("date").min()).sort("date", "currency")["currency"].to_list()
    mapping, near = resolver.canonical_names(order)
    renamed = {raw: name for raw, name in mapping.items() if name != raw}
    if not renamed:
        return Canonicalized(prices, {}, near, 0)
    out = prices.with_columns(pl.col("currency").replace(renamed))
    keys = ["league", "currency", "date"]
    deduped = out.unique(keys, keep="first", maintain_order=True)
    return Canonicalized(deduped, renamed, near, out.height - deduped.height)
