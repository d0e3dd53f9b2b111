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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from poeconomy_assets.core.ingest.currency_names import MAX_NAME_LENGTH, CurrencyResolver, name_problem
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
    """Validate one ``/get`` response into snapshot rows; never raises on a bad row, only on a bad payload."""
    league_problem = name_problem(league) if isinstance(league, str) else "bad_name"
    if league_problem:  # one league per payload: no row of it can be stored, say so instead of crashing later
        raise PayloadError(
            f"league name {_short_repr(league)} cannot be stored ({league_problem}); "
            "the league list should have skipped it"
        )
    items = require_list(data, f"/get?league={_short_repr(league)}&category={category}")
    parsed = ParsedItems(rows=pl.DataFrame(schema=SNAPSHOT_COLUMNS), received=len(items))
    last_prices = last_prices or {}
    accepted: dict[int, dict] = {}

    def problem(index: int, reason: str, detail: str, skip: bool = True) -> None:
        parsed.counts[reason] += 1
        parsed.problems.append({"index": index, "reason": reason, "detail": detail[:120], "skipped": skip})

    for index, item in enumerate(items):
        if isinstance(item, TooDeep):
            problem(index, "too_deeply_nested", repr(item))
            continue
        if not isinstance(item, dict):
            problem(index, "not_an_object", _short_repr(item))
            continue
        item_id, id_coerced = to_number(item.get("id"))
        if _out_of_range(item.get("id"), item_id, integer=True):
            problem(index, "number_out_of_range", f"id = {_short_repr(item.get('id'))}")
            continue
        if item_id is None or not math.isfinite(item_id) or item_id <= 0 or item_id != int(item_id):
            problem(index, "missing_id", f"id = {_short_repr(item.get('id'))}")
            continue
        raw_name = item.get("name")
        if not isinstance(raw_name, str) or not raw_name.strip():
            problem(index, "missing_name", f"id {int(item_id)}: name = {_short_repr(raw_name)}")
            continue
        bad_name = name_problem(raw_name.strip())
        if bad_name:
            problem(
                index,
                bad_name,
                f"id {int(item_id)}: name of {len(raw_name)} characters (at most "
                f"{MAX_NAME_LENGTH}, no control characters) {_short_repr(raw_name[:40])}",
            )
            continue
        row_category = item.get("category")
        row_category = category if row_category is None else str(row_category).strip().lower()
        if row_category not in CATEGORIES:
            problem(
                index, "other_category", f"{raw_name.strip()}: category {_short_repr(item.get('category'))}"
            )
            continue
        if "mean" not in item or item.get("mean") is None:
            problem(index, "missing_mean", f"{raw_name.strip()}: mean missing or null")
            continue
        mean, mean_coerced = to_number(item.get("mean"))
        low, low_coerced = to_number(item.get("min"))
        high, high_coerced = to_number(item.get("max"))
        daily, daily_coerced = to_number(item.get("daily"))
        if any(v is not None and math.isnan(v) for v in (mean, low, high, daily)):
            problem(index, "non_numeric", f"{raw_name.strip()}: mean/min/max/daily not numbers")
            continue
        out_of_range = [
            key
            for key, value, integer in (
                ("mean", mean, False),
                ("min", low, False),
                ("max", high, False),
                ("daily", daily, True),
            )
            if _out_of_range(item.get(key), value, integer)
            or (integer and value is not None and math.isinf(value))
        ]
        if out_of_range:
            problem(
                index, "number_out_of_range", f"{raw_name.strip()}: {', '.join(out_of_range)} out of range"
            )
            continue
        if mean is None or not math.isfinite(mean) or mean <= 0:
            problem(index, "non_positive_mean", f"{raw_name.strip()}: mean = {_short_repr(item.get('mean'))}")
            continue
        resolution = resolver.resolve(raw_name)
        if resolution.near_miss_of is not None:
            problem(
                index,
                "near_miss_name",
                f"{raw_name.strip()!r} looks like {resolution.near_miss_of!r} but is not a known alias",
            )
            continue
        name = resolution.name
        bad_name = name_problem(name)  # what is stored: the canonical, NFC-normalised name
        if bad_name:
            problem(
                index,
                bad_name,
                f"id {int(item_id)}: name of {len(name)} characters once normalised (at most "
                f"{MAX_NAME_LENGTH}) {_short_repr(name[:40])}",
            )
            continue
        if resolution.changed:
            problem(index, "renamed_or_aliased", f"{raw_name!r} → {name!r}", skip=False)
        reference = last_prices.get(name) or _history_median(item.get("history"))
        if reference and (mean > reference * JUMP_FACTOR or mean < reference / JUMP_FACTOR):
            problem(index, "price_jump", f"{name}: mean {mean:g} vs reference {reference:g}")
            continue
        if any((id_coerced, mean_coerced, low_coerced, high_coerced, daily_coerced)):
            problem(index, "coerced_strings", f"{name}: numbers sent as strings", skip=False)
        low = low if low is not None and math.isfinite(low) and low >= 0 else None
        high = high if high is not None and math.isfinite(high) and high >= 0 else None
        if low is not None and high is not None and not (low <= mean <= high):
            problem(
                index, "mean_outside_min_max", f"{name}: mean {mean:g} not in [{low:g}, {high:g}]", skip=False
            )
        low_confidence = item.get("lowConfidence")
        if not isinstance(low_confidence, bool):
            # Unknown confidence is treated as low: a row the API could not vouch for.
            problem(
                index, "missing_low_confidence", f"{name}: lowConfidence = {low_confidence!r}", skip=False
            )
            low_confidence = True
        row = {
            "league": league,
            "currency": name,
            "category": row_category,
            "item_id": _exact_int(item.get("id")),
            "snapshot_at": snapshot_at.astimezone(UTC),
            "mean_chaos": mean,
            "min_chaos": low,
            "max_chaos": high,
            "daily": None if daily is None or daily < 0 else _exact_int(item.get("daily")),
            "low_confidence": low_confidence,
            "payload_hash": payload_hash,
        }
        key = row["item_id"]
        if key in accepted:
            kept, dropped = _prefer(accepted[key], row)
            problem(
                index,
                "duplicate_id",
                f"id {key} ({name}): kept mean {kept['mean_chaos']:g} "
                f"(daily {kept['daily']}), dropped mean {dropped['mean_chaos']:g}",
            )
            accepted[key] = kept
            continue
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
