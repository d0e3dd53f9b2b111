"""One currency identity across sources (POE Watch rows, poe.ninja dumps).

A raw name resolves to a canonical name by, in order: an exact known name; the same name up to case,
apostrophe style and whitespace; a known alias or rename. A name that is none of these but looks very much
like a known one (a typo, a spelling variant nobody listed) is a *near miss*: reported, never merged into the
known currency and never stored as a second currency beside it.

Near misses are looked up in a deletion index (every key minus one character points at the key), so each name
is compared with at most MAX_CANDIDATES known names: work grows linearly with the payload however many names
it brings (difflib against every known name cost ~270 s of CPU for 8,000 new names). It finds every known name
within one inserted, dropped, changed or swapped character, then keeps those with difflib ratio >= 0.88.
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
# Lone surrogates (U+D800-U+DFFF) are not Unicode text: JSON can carry them ("\ud800") but UTF-8 cannot encode
# them, so polars, every SQL driver and every file name refuses them. Kept apart from FORBIDDEN_IN_NAMES, whose
# pattern polars (Rust regex, which has no surrogates) also runs.
SURROGATES = re.compile("[\ud800-\udfff]")


def name_problem(name: str) -> str | None:
    """Why ``name`` (a currency, league or category) cannot be stored: ``name_too_long``, ``bad_name``, or None.

    The length is checked on the raw name (cheap, before any work on a 1 MB string) and again after NFC
    normalisation, which is what is stored (``clean_name``): "\ufb2c" * 34 is 34 characters raw and 102 after it."""
    if len(name) > MAX_NAME_LENGTH:
        return "name_too_long"
    if SURROGATES.search(name) or FORBIDDEN_IN_NAMES.search(name):
        return "bad_name"
    if len(unicodedata.normalize("NFC", name)) > MAX_NAME_LENGTH:
        return "name_too_long"
    return None


def printable(value: object, limit: int = 80) -> str:
    """``repr`` of a name (or whatever came instead) for messages and metadata, bounded, lone surrogates shown as
    escapes (encodable)."""
    if not isinstance(value, str):
        text = repr(value) if isinstance(value, int | float | bool | None) else f"<{type(value).__name__}>"
        return text[:limit]
    text = repr(value[:limit]) + (f"… ({len(value)} characters)" if len(value) > limit else "")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def clean_name(raw: str) -> str:
    """Trimmed, with runs of whitespace collapsed and typographic apostrophes made plain."""
    return _SPACES.sub(" ", _APOSTROPHES.sub("'", unicodedata.normalize("NFC", raw))).strip()


def match_key(raw: str) -> str:
    """What two spellings of one name share: case-folded, apostrophes dropped, whitespace collapsed."""
    return clean_name(raw).replace("'", "").casefold()


MAX_CANDIDATES = 32  # known names gathered for one new name, at most
# ... of which at most this many are scored with difflib (one 100-character comparison is ~0.1 ms: 32 of them per
# name made 8,000 near-identical names cost 8.7 CPU-s, ~100 CPU-s at the 16 MiB body cap). Distance-1 names
# (an inserted or dropped character) are scored first, then the names that share a deletion with it.
MAX_COMPARED = 4
# New names a resolver adds to the near-miss index (known names are always indexed): each costs ~100 index
# entries of ~100 characters, so a hostile payload of 150k new names would otherwise take gigabytes. Past this,
# new names still resolve exactly and through aliases; only near misses of them go unnoticed.
MAX_INDEXED_NEW = 2_000
_BUCKET_CAP = 16  # keys kept per deletion variant (a variant shared by more names says little)


class _NearMissIndex:
    """Known match keys by their one-character deletions (a SymSpell-style index of distance 1)."""

    def __init__(self) -> None:
        self._buckets: dict[str, list[str]] = {}

    @staticmethod
    def _variants(key: str) -> set[str]:
        return {key, *(key[:i] + key[i + 1 :] for i in range(len(key)))}

    def add(self, key: str) -> None:
        if len(key) > MAX_NAME_LENGTH:
            return
        for variant in self._variants(key):
            bucket = self._buckets.setdefault(variant, [])
            if len(bucket) < _BUCKET_CAP:
                bucket.append(key)

    def closest(self, key: str, cutoff: float) -> str | None:
        """The known key most like ``key`` (difflib ratio >= cutoff) among at most MAX_CANDIDATES."""
        if len(key) > MAX_NAME_LENGTH:
            return None
        candidates: dict[str, None] = {}
        for variant in sorted(self._variants(key)):
            for known in self._buckets.get(variant, ()):
                if known != key and len(candidates) < MAX_CANDIDATES:
                    candidates[known] = None
        # One edit away first (the key with a character dropped or added), then by name: deterministic.
        ranked = sorted(candidates, key=lambda known: (abs(len(known) - len(key)) != 1, known))[:MAX_COMPARED]
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(key)
        best, best_score = None, cutoff
        for known in ranked:
            matcher.set_seq1(known)
            score = matcher.ratio()
            if score > best_score or (score == best_score and best is None):
                best, best_score = known, score
        return best


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
        self._index = _NearMissIndex()
        self._indexed_new = 0
        for name in known:
            self._remember(match_key(name), name)

    def _remember(self, key: str, name: str, new: bool = False) -> None:
        if key not in self._known:
            self._known[key] = name
            if new:
                if self._indexed_new >= MAX_INDEXED_NEW:
                    return
                self._indexed_new += 1
            self._index.add(key)

    def resolve(self, raw: str) -> Resolution:
        cleaned = clean_name(raw)
        key = match_key(cleaned)
        if key in self._known:
            name = self._known[key]
            return Resolution(name, name != raw.strip())
        if key in self._aliases:
            name = self._aliases[key]
            self._remember(match_key(name), name)
            return Resolution(name, name != raw.strip())
        close = self._index.closest(key, NEAR_MISS_RATIO)
        if close is not None:
            return Resolution(cleaned, False, near_miss_of=self._known[close])
        self._remember(
            key, cleaned, new=True
        )  # new currency: later spellings of it in the batch resolve to it
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
    order = (
        prices.group_by("currency").agg(pl.col("date").min()).sort("date", "currency")["currency"].to_list()
    )
    mapping, near = resolver.canonical_names(order)
    renamed = {raw: name for raw, name in mapping.items() if name != raw}
    if not renamed:
        return Canonicalized(prices, {}, near, 0)
    out = prices.with_columns(pl.col("currency").replace(renamed))
    keys = ["league", "currency", "date"]
    deduped = out.unique(keys, keep="first", maintain_order=True)
    return Canonicalized(deduped, renamed, near, out.height - deduped.height)
