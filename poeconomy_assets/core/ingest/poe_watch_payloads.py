"""Validate POE Watch responses before anything uses them (pure Python + polars, no dagster).

Two levels, following the spec's "failures a client must survive" section:

- **payload** (:func:`decode_json`, :func:`require_list`): an HTML error page, an empty body, malformed JSON
  or a JSON object where a list belongs raise :class:`PayloadError`; JSON ``null`` and ``[]`` mean *no data*
  (never zero prices).
- **row** (:func:`parse_items`): each bad element is skipped and counted under one reason; numeric strings
  are coerced, names trimmed, duplicated ids resolved (the row with the larger ``daily`` wins), ``mean``
  outside ``[min, max]`` kept but counted, absurd jumps rejected.
"""

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import polars as pl

from poeconomy_assets.core.ingest.currency_names import (
    MAX_NAME_LENGTH,
    CurrencyResolver,
    Resolution,
    name_problem,
)
from poeconomy_assets.core.ingest.league_dates import far_from_median
from poeconomy_assets.core.ingest.snapshot_rows import validate_snapshots
from poeconomy_assets.core.schemas import SNAPSHOT_COLUMNS

CATEGORIES = ("currency", "fragment")
# A price more than JUMP_FACTOR times above (or below) the reference (the last accepted snapshot, else the
# median of the row's own recent history) is a price-fixing listing, not a market move.
JUMP_FACTOR = 25.0

# Why a row was skipped (or flagged); every key appears in the asset's metadata, zero or not.
SKIP_REASONS = (
    "not_an_object",
    "too_deeply_nested",
    "missing_id",
    "missing_name",
    "bad_name",
    "name_too_long",
    "missing_mean",
    "non_numeric",
    "number_out_of_range",
    "non_positive_mean",
    "other_category",
    "price_jump",
    "duplicate_id",
    "near_miss_name",
    "unstorable_row",
)
INT64_MAX = 2**63 - 1
MAX_FLOAT = 1e308  # any finite price or count beyond this is garbage (and overflows sums downstream)
MAX_ELEMENT_DEPTH = 64  # a list element nested deeper is skipped as too_deeply_nested
FLAG_REASONS = (
    "mean_outside_min_max",
    "low_confidence",
    "missing_low_confidence",
    "coerced_strings",
    "renamed_or_aliased",
)


class PayloadError(ValueError):
    """A response that is not a usable JSON payload; the message says what it was instead."""


def decode_json(body: bytes, content_type: str | None = None) -> Any:
    """The JSON value of ``body``; raises PayloadError for empty bodies, HTML pages and malformed JSON."""
    # A UTF-8 byte order mark before the JSON is ignored (RFC 8259 allows it); it used to make valid JSON a
    # "malformed" body, retried as if the server would send something else next time.
    text = body.decode("utf-8", errors="replace").strip().removeprefix("\ufeff").strip()
    if not text:
        raise PayloadError("empty response body (expected JSON)")
    lowered = text[:200].lower()
    if (content_type and "html" in content_type.lower()) or lowered.startswith(("<!doctype", "<html", "<")):
        title = _html_title(text)
        raise PayloadError(f"an HTML page instead of JSON{f' ({title!r})' if title else ''}: {text[:80]!r}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; body starts {text[:60]!r}"
        ) from exc
    except RecursionError:
        return _decode_list_elementwise(text)


class TooDeep:
    """Stands in for a list element nested more than MAX_ELEMENT_DEPTH levels (parse_items skips it)."""

    def __repr__(self) -> str:
        return f"<element nested over {MAX_ELEMENT_DEPTH} levels>"


def _decode_list_elementwise(text: str) -> list:
    """A top-level JSON list decoded one element at a time, so one absurdly nested element (100k levels) is
    replaced by :class:`TooDeep` instead of sinking the payload. One linear pass over the text."""
    if not text.startswith("["):
        raise PayloadError(f"JSON nested too deeply to decode (body starts {text[:60]!r})")
    out: list = []
    depth, in_string, escaped, start, deepest = 0, False, False, 1, 0
    for position, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                _append_element(out, text[start:position], deepest)
                rest = text[position + 1 :].strip()
                if rest:
                    raise PayloadError(f"malformed JSON: {rest[:40]!r} after the top-level list")
                return out
        elif ch == "," and depth == 1:
            _append_element(out, text[start:position], deepest)
            start, deepest = position + 1, 1
    raise PayloadError("malformed JSON: the top-level list is never closed")


def _append_element(out: list, span: str, deepest: int) -> None:
    span = span.strip()
    if not span:
        if out:  # "[1,]" or "[1,,2]": the same error json.loads would give
            raise PayloadError("malformed JSON: empty list element")
        return
    if deepest - 1 > MAX_ELEMENT_DEPTH:
        out.append(TooDeep())
        return
    try:
        out.append(json.loads(span))
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"malformed JSON in a list element: {exc.msg}; element starts {span[:60]!r}"
        ) from exc


def _html_title(text: str) -> str:
    low = text.lower()
    start, end = low.find("<title>"), low.find("</title>")
    return text[start + 7 : end].strip() if 0 <= start < end else ""


def require_list(data: Any, what: str) -> list:
    """``data`` as a list; ``null`` is an empty list (no data); an object or scalar raises PayloadError."""
    if data is None:
        return []
    if not isinstance(data, list):
        shown = json.dumps(data)[:120] if isinstance(data, dict | str | int | float) else type(data).__name__
        raise PayloadError(f"{what} returned a JSON {type(data).__name__}, not a list: {shown}")
    return data


def to_number(value: Any) -> tuple[float | None, bool]:
    """(float or None, whether it was coerced from a string). Booleans are not numbers."""
    if value is None or isinstance(value, bool):
        return None, False
    try:
        if isinstance(value, int | float):
            return float(value), False
        if isinstance(value, str):
            try:
                return float(value.strip()[:400]), True
            except ValueError:
                return math.nan, True
    except OverflowError:  # an integer beyond any float (10**400)
        return math.inf, isinstance(value, str)
    return math.nan, False


def _exact_int(raw: Any) -> int:
    """An id or count as an exact integer: a JSON integer as sent (2**63 - 1 would round up to 2**63 through
    float), anything else (a numeric string, 12.0) through its float value."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return int(to_number(raw)[0])


def _out_of_range(raw: Any, value: float | None, integer: bool) -> bool:
    """True for a count or id beyond Int64, or any finite number beyond MAX_FLOAT."""
    if value is None or math.isnan(value):
        return False
    if integer:
        exact = raw if isinstance(raw, int) and not isinstance(raw, bool) else value
        return not (-INT64_MAX <= exact <= INT64_MAX)
    return math.isfinite(value) and abs(value) > MAX_FLOAT


@dataclass
class ParsedItems:
    """Rows ready for the price store (SNAPSHOT_COLUMNS), and what happened to the others."""

    rows: pl.DataFrame
    received: int
    counts: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)  # one entry per skipped or flagged element

    def count_table(self) -> dict[str, int]:
        return {reason: int(self.counts.get(reason, 0)) for reason in (*SKIP_REASONS, *FLAG_REASONS)}


class Element:
    """One element of a ``/get`` list as the row rules read it. Each value is worked out the first time a rule
    asks for it, and a rule only asks for what the rules before it have vouched for (``name`` once the element
    is an object with a name, ``mean`` once it is present)."""

    def __init__(
        self, item: Any, category: str, resolver: CurrencyResolver, last_prices: dict[str, float]
    ) -> None:
        self.item, self.category, self.resolver, self.last_prices = item, category, resolver, last_prices

    @property
    def shown_item(self) -> str:
        return _short_repr(self.item)

    def shown(self, key: str) -> str:
        """A field as sent, bounded for messages."""
        return _short_repr(self.item.get(key))

    @cached_property
    def numbers(self) -> dict[str, tuple[float | None, bool]]:
        """(value, sent as a string) of the numeric fields."""
        return {key: to_number(self.item.get(key)) for key in ("id", "mean", "min", "max", "daily")}

    @property
    def item_id(self) -> float | None:
        return self.numbers["id"][0]

    @property
    def mean(self) -> float | None:
        return self.numbers["mean"][0]

    @property
    def id_out_of_range(self) -> bool:
        return _out_of_range(self.item.get("id"), self.item_id, integer=True)

    @property
    def id_missing(self) -> bool:
        """No positive whole number (0, null, -3, 1.5, NaN)."""
        i = self.item_id
        return i is None or not math.isfinite(i) or i <= 0 or i != int(i)

    @property
    def raw_name(self) -> Any:
        return self.item.get("name")

    @property
    def name_missing(self) -> bool:
        return not isinstance(self.raw_name, str) or not self.raw_name.strip()

    @cached_property
    def name(self) -> str:
        """The name as sent, trimmed."""
        return self.raw_name.strip()

    @cached_property
    def name_problem(self) -> str | None:
        return name_problem(self.name)

    @cached_property
    def row_category(self) -> str:
        """The row's own category (trimmed, lower case), else the one asked for."""
        sent = self.item.get("category")
        return self.category if sent is None else str(sent).strip().lower()

    @property
    def mean_missing(self) -> bool:
        return self.item.get("mean") is None

    @property
    def mean_not_positive(self) -> bool:
        return self.mean is None or not math.isfinite(self.mean) or self.mean <= 0

    @property
    def not_numbers(self) -> bool:
        return any(v is not None and math.isnan(v) for k, (v, _) in self.numbers.items() if k != "id")

    @cached_property
    def out_of_range(self) -> list[str]:
        """Numeric fields beyond what is stored: a count beyond Int64 or infinite, a float over MAX_FLOAT."""
        return [
            key
            for key, integer in (("mean", False), ("min", False), ("max", False), ("daily", True))
            if _out_of_range(self.item.get(key), self.numbers[key][0], integer)
            or (integer and self.numbers[key][0] is not None and math.isinf(self.numbers[key][0]))
        ]

    @cached_property
    def resolution(self) -> Resolution:
        return self.resolver.resolve(self.raw_name)

    @property
    def canonical(self) -> str:
        """The currency name stored: canonical, NFC-normalised."""
        return self.resolution.name

    @cached_property
    def canonical_problem(self) -> str | None:
        return name_problem(self.canonical)

    @cached_property
    def reference(self) -> float | None:
        """The price a jump is measured against: the last accepted snapshot, else the row's recent history."""
        return self.last_prices.get(self.canonical) or _history_median(self.item.get("history"))

    @property
    def jumped(self) -> bool:
        ref = self.reference
        return bool(ref) and (self.mean > ref * JUMP_FACTOR or self.mean < ref / JUMP_FACTOR)

    @property
    def coerced(self) -> bool:
        return any(coerced for _, coerced in self.numbers.values())

    def bound(self, key: str) -> float | None:
        """``min`` or ``max`` when a finite number >= 0, else None (not stored)."""
        value = self.numbers[key][0]
        return value if value is not None and math.isfinite(value) and value >= 0 else None

    @property
    def outside_min_max(self) -> bool:
        low, high = self.bound("min"), self.bound("max")
        return low is not None and high is not None and not (low <= self.mean <= high)

    @property
    def low_confidence_sent(self) -> Any:
        return self.item.get("lowConfidence")

    @property
    def low_confidence_missing(self) -> bool:
        return not isinstance(self.low_confidence_sent, bool)

    @property
    def low_confidence(self) -> bool:
        """``lowConfidence`` as sent; unknown confidence is low (a row the API could not vouch for)."""
        sent = self.low_confidence_sent
        return sent if isinstance(sent, bool) else True

    def row(self, league: str, snapshot_at: datetime, payload_hash: str) -> dict:
        daily = self.numbers["daily"][0]
        return {
            "league": league,
            "currency": self.canonical,
            "category": self.row_category,
            "item_id": _exact_int(self.item.get("id")),
            "snapshot_at": snapshot_at.astimezone(UTC),
            "mean_chaos": self.mean,
            "min_chaos": self.bound("min"),
            "max_chaos": self.bound("max"),
            "daily": None if daily is None or daily < 0 else _exact_int(self.item.get("daily")),
            "low_confidence": self.low_confidence,
            "payload_hash": payload_hash,
        }


@dataclass(frozen=True)
class RowRule:
    """A check of one element's ``field``: when ``fails``, the element is counted under ``reason`` and listed
    with ``detail``, then skipped (``skip``) or only flagged and kept."""

    field: str
    reason: str
    fails: Callable[[Element], bool]
    detail: Callable[[Element], str]
    skip: bool = True


def _raw_name_detail(e: Element) -> str:
    return (
        f"id {int(e.item_id)}: name of {len(e.raw_name)} characters (at most {MAX_NAME_LENGTH}, "
        f"no control characters) {_short_repr(e.raw_name[:40])}"
    )


def _canonical_detail(e: Element) -> str:
    return (
        f"id {int(e.item_id)}: name of {len(e.canonical)} characters once normalised "
        f"(at most {MAX_NAME_LENGTH}) {_short_repr(e.canonical[:40])}"
    )


# Every element meets these in order; the first skip ends its turn (flags before it stay recorded).
# fmt: off
ROW_RULES: tuple[RowRule, ...] = (
    # field, reason, fails when ..., detail (shown in the asset's problems table)
    RowRule("element", "too_deeply_nested", lambda e: isinstance(e.item, TooDeep), lambda e: repr(e.item)),
    RowRule("element", "not_an_object", lambda e: not isinstance(e.item, dict), lambda e: e.shown_item),
    RowRule("id", "number_out_of_range", lambda e: e.id_out_of_range, lambda e: f"id = {e.shown('id')}"),
    RowRule("id", "missing_id", lambda e: e.id_missing, lambda e: f"id = {e.shown('id')}"),
    RowRule("name", "missing_name", lambda e: e.name_missing,
            lambda e: f"id {int(e.item_id)}: name = {e.shown('name')}"),
    RowRule("name", "bad_name", lambda e: e.name_problem == "bad_name", _raw_name_detail),
    RowRule("name", "name_too_long", lambda e: e.name_problem == "name_too_long", _raw_name_detail),
    RowRule("category", "other_category", lambda e: e.row_category not in CATEGORIES,
            lambda e: f"{e.name}: category {e.shown('category')}"),
    RowRule("mean", "missing_mean", lambda e: e.mean_missing,
            lambda e: f"{e.name}: mean missing or null"),
    RowRule("mean/min/max/daily", "non_numeric", lambda e: e.not_numbers,
            lambda e: f"{e.name}: mean/min/max/daily not numbers"),
    RowRule("mean/min/max/daily", "number_out_of_range", lambda e: bool(e.out_of_range),
            lambda e: f"{e.name}: {', '.join(e.out_of_range)} out of range"),
    RowRule("mean", "non_positive_mean", lambda e: e.mean_not_positive,
            lambda e: f"{e.name}: mean = {e.shown('mean')}"),
    RowRule("name", "near_miss_name", lambda e: e.resolution.near_miss_of is not None,
            lambda e: f"{e.name!r} looks like {e.resolution.near_miss_of!r} but is not a known alias"),
    RowRule("name", "bad_name", lambda e: e.canonical_problem == "bad_name", _canonical_detail),
    RowRule("name", "name_too_long", lambda e: e.canonical_problem == "name_too_long", _canonical_detail),
    RowRule("name", "renamed_or_aliased", lambda e: e.resolution.changed,
            lambda e: f"{e.raw_name!r} → {e.canonical!r}", skip=False),
    RowRule("mean", "price_jump", lambda e: e.jumped,
            lambda e: f"{e.canonical}: mean {e.mean:g} vs reference {e.reference:g}"),
    RowRule("id/mean/min/max/daily", "coerced_strings", lambda e: e.coerced,
            lambda e: f"{e.canonical}: numbers sent as strings", skip=False),
    RowRule("mean", "mean_outside_min_max", lambda e: e.outside_min_max,
            lambda e: f"{e.canonical}: mean {e.mean:g} not in [{e.bound('min'):g}, {e.bound('max'):g}]",
            skip=False),
    RowRule("lowConfidence", "missing_low_confidence", lambda e: e.low_confidence_missing,
            lambda e: f"{e.canonical}: lowConfidence = {e.low_confidence_sent!r}", skip=False),
)
# fmt: on


def parse_items(
    data: Any,
    *,
    league: str,
    category: str,
    snapshot_at: datetime,
    payload_hash: str,
    resolver: CurrencyResolver,
    last_prices: dict[str, float] | None = None,
) -> ParsedItems:
    """Validate one ``/get`` response into snapshot rows; never raises on a bad row, only on a bad payload.

    Each element meets ``ROW_RULES`` in order; one that passes every skip becomes a row. Two rows with one id
    keep the one with more listings (``daily``)."""
    league_problem = name_problem(league) if isinstance(league, str) else "bad_name"
    if league_problem:  # one league per payload: no row of it can be stored, say so instead of crashing later
        raise PayloadError(
            f"league name {_short_repr(league)} cannot be stored ({league_problem}); "
            "the league list should have skipped it"
        )
    items = require_list(data, f"/get?league={_short_repr(league)}&category={category}")
    parsed = ParsedItems(rows=pl.DataFrame(schema=SNAPSHOT_COLUMNS), received=len(items))
    accepted: dict[int, dict] = {}

    def problem(index: int, reason: str, detail: str, skip: bool = True) -> None:
        parsed.counts[reason] += 1
        parsed.problems.append({"index": index, "reason": reason, "detail": detail[:120], "skipped": skip})

    for index, item in enumerate(items):
        element = Element(item, category, resolver, last_prices or {})
        failed = failed_rules(element)
        for rule in failed:
            problem(index, rule.reason, rule.detail(element), rule.skip)
        if failed and failed[-1].skip:
            continue
        row = element.row(league, snapshot_at, payload_hash)
        key = row["item_id"]
        if key in accepted:
            kept, dropped = _prefer(accepted[key], row)
            problem(
                index,
                "duplicate_id",
                f"id {key} ({row['currency']}): kept mean {kept['mean_chaos']:g} "
                f"(daily {kept['daily']}), dropped mean {dropped['mean_chaos']:g}",
            )
            row = kept
        accepted[key] = row
    rows = _storable(list(accepted.values()), problem)
    frame = pl.DataFrame(rows, schema=SNAPSHOT_COLUMNS) if rows else parsed.rows
    # Two ids may resolve to one currency name (an alias): the key is (league, currency, snapshot_at).
    parsed.rows = (
        frame.sort("daily", descending=True, nulls_last=True)
        .unique(["currency"], keep="first", maintain_order=True)
        .sort("currency")
    )
    parsed.counts["low_confidence"] = int(parsed.rows["low_confidence"].sum() or 0)
    merged = frame.height - parsed.rows.height
    if merged:
        parsed.counts["duplicate_id"] += merged
    return parsed


def failed_rules(element: Element) -> list[RowRule]:
    """The rules ``element`` fails, in order, up to the first that skips it (the last one, if any skips)."""
    failed = []
    for rule in ROW_RULES:
        if rule.fails(element):
            failed.append(rule)
            if rule.skip:
                break
    return failed


def _storable(rows: list[dict], problem: Any) -> list[dict]:
    """``rows`` that the price store takes. The checks above should leave none it refuses; should one slip
    through anyway, it is skipped as ``unstorable_row`` (with the store's own reason) instead of costing the
    payload's other rows. The whole batch is tried first: row by row only when it fails."""

    def fits(batch: list[dict]) -> str | None:
        try:
            validate_snapshots(pl.DataFrame(batch, schema=SNAPSHOT_COLUMNS))
        except (ValueError, pl.exceptions.PolarsError, OverflowError, TypeError) as exc:
            return f"{type(exc).__name__}: {exc}".encode("utf-8", "backslashreplace").decode("utf-8")
        return None

    if not rows or fits(rows) is None:
        return rows
    kept = []
    for row in rows:
        why = fits([row])
        if why is None:
            kept.append(row)
        else:
            problem(-1, "unstorable_row", f"id {row['item_id']}: {why}")
    return kept


def _short_repr(value: Any, limit: int = 80) -> str:
    """repr of a value from a payload, bounded (a 1M-character string or a deep list stays cheap)."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + f"… ({len(value)} characters)"
    if isinstance(value, list | dict):
        return f"<{type(value).__name__} of {len(value)}>"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _prefer(a: dict, b: dict) -> tuple[dict, dict]:
    """(kept, dropped): the row with more listings in the last 24 h wins; on a tie the first seen."""
    return (b, a) if (b["daily"] or 0) > (a["daily"] or 0) else (a, b)


def _history_median(history: Any) -> float | None:
    if not isinstance(history, list):
        return None
    values = sorted(
        v for v in (to_number(x)[0] for x in history) if v is not None and math.isfinite(v) and v > 0
    )
    return values[len(values) // 2] if values else None


@dataclass(frozen=True)
class HistoryPoint:
    day_at: datetime  # UTC
    mean: float


def parse_history(data: Any, what: str) -> tuple[list[HistoryPoint], int]:
    """Daily means of one ``/history`` response, and how many points were unusable.

    A point dated far from the others (9999-12-30, 1970-01-02) is unusable by the dump importer's rule
    (``core.ingest.league_dates``); the caller applies it again across the league's items."""
    points, bad = [], 0
    for entry in require_list(data, what):
        if not isinstance(entry, dict):
            bad += 1
            continue
        mean, _ = to_number(entry.get("mean"))
        when = parse_timestamp(entry.get("date"))
        if mean is None or not math.isfinite(mean) or mean <= 0 or when is None:
            bad += 1
            continue
        points.append(HistoryPoint(when, mean))
    far, _ = far_from_median([p.day_at.date() for p in points])
    kept = [p for p, is_far in zip(points, far, strict=True) if not is_far]
    return kept, bad + len(points) - len(kept)


GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp with any offset (and fractional seconds) in UTC; the Go zero time is None."""
    if not isinstance(value, str) or not value.strip() or value.strip() == GO_ZERO_TIME:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Python < 3.11.? accepts only 3 or 6 fractional digits: pad to 6
        head, _, rest = text.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        tail = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 is past the largest datetime in UTC
        return None
