"""Property-based tests (hypothesis) of issue 21's invariant: one bad row, name or league never costs the good
rows of the same payload, list or slot; bad ones are counted and skipped with a reason.

Arbitrary Unicode (lone surrogates, combining marks, characters that grow under NFC), huge and tiny numbers and
deep nesting, against the payload parser, the league list, the history parser and the CSV header lines. The
"ci" profile (conftest.py) makes every run the same and bounded.
"""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver, match_key, name_problem
from poeconomy_assets.core.ingest.league_dates import MAX_DAYS_FROM_MEDIAN
from poeconomy_assets.core.ingest.leagues import parse_leagues
from poeconomy_assets.core.ingest.poe_watch_payloads import (
    PayloadError,
    TooDeep,
    decode_json,
    parse_history,
    parse_items,
)
from poeconomy_assets.core.keys import key_from_name, name_from_key
from poeconomy_assets.core.report.safe_text import csv_comment_lines
from poeconomy_assets.resources.price_store import validate_snapshots
from poeconomy_assets_tests.test_fuzz import PROFILE, any_text, hostile_text, json_value, numbers

FEW = settings(settings.get_profile(PROFILE), max_examples=settings.get_profile(PROFILE).max_examples // 3)
SLOT = datetime(2025, 6, 20, 12, tzinfo=UTC)
GOOD = [
    {
        "id": 900_001,
        "name": "Divine Orb",
        "category": "currency",
        "mean": 150.0,
        "min": 140.0,
        "max": 160.0,
        "daily": 900,
        "lowConfidence": False,
    },
    {
        "id": 900_002,
        "name": "Exalted Orb",
        "category": "currency",
        "mean": 12.0,
        "min": 11.0,
        "max": 13.0,
        "daily": 500,
        "lowConfidence": False,
    },
]
GOOD_KEYS = {match_key(row["name"]) for row in GOOD} | {"divine orbs", "exalted orbs", "exalt", "divine"}

hostile_row = st.fixed_dictionaries(
    {"id": st.integers(1, 899_999) | numbers, "name": any_text},
    optional={
        "mean": numbers,
        "min": numbers,
        "max": numbers,
        "daily": numbers,
        "lowConfidence": st.booleans(),
        "category": st.sampled_from(["currency", "fragment", "gem", None, 7, "\ud800"]),
        "history": json_value,
    },
)


def _not_a_good_one(row: object) -> bool:
    """A hostile row that is not a second listing of a good row's currency (those are merged, by design)."""
    if not isinstance(row, dict) or not isinstance(row.get("name"), str):
        return True
    try:
        return match_key(row["name"]) not in GOOD_KEYS
    except ValueError:
        return True


@FEW
@given(st.lists((hostile_row | json_value).filter(_not_a_good_one), max_size=10), st.integers(0, 10))
@example([{"id": 1, "name": "X \ud800", "mean": 1.0}, {"id": 2, "name": "\ufb2c" * 34, "mean": 1.0}], 1)
def test_good_rows_survive_any_hostile_rows_beside_them(hostile: list, at: int) -> None:
    items = [*hostile[:at], GOOD[0], *hostile[at:], GOOD[1]]
    parsed = parse_items(
        items,
        league="Settlers",
        category="currency",
        snapshot_at=SLOT,
        payload_hash="h",
        resolver=CurrencyResolver(["Divine Orb", "Exalted Orb"]),
    )
    assert {"Divine Orb", "Exalted Orb"} <= set(parsed.rows["currency"].to_list())
    validate_snapshots(parsed.rows)  # the store takes every accepted row: nothing can sink the batch there
    skipped = [p for p in parsed.problems if p["skipped"]]
    assert parsed.rows.height + len(skipped) <= len(items)
    for entry in parsed.problems:  # every reason is storable, bounded text
        entry["detail"].encode("utf-8")
        assert len(entry["detail"]) <= 120 and entry["reason"]


league_entry = st.fixed_dictionaries(
    {"name": any_text | st.integers() | st.none()}, optional={"start_date": any_text, "end_date": any_text}
)


@FEW
@given(st.lists(league_entry | json_value, max_size=8), st.integers(0, 8))
def test_the_league_list_keeps_every_valid_league_and_only_storable_names(entries: list, at: int) -> None:
    good = {"name": "Settlers", "start_date": "2024-07-26T20:00:00Z", "end_date": "0001-01-01T00:00:00Z"}
    problems: list[str] = []
    leagues, bad = parse_leagues([*entries[:at], good, *entries[at:]], problems=problems)
    assert "Settlers" in [lg.name for lg in leagues]
    assert bad == len(problems) == len(entries) + 1 - len(leagues)
    for league in leagues:
        assert name_problem(league.name) is None
        assert name_from_key(key_from_name(league.name)) == league.name
    for line in problems:
        line.encode("utf-8")
        assert len(line) < 300


moments = (
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC, None])
    ).map(lambda d: d.isoformat())
    | any_text
    | st.sampled_from(
        ["9999-12-30T00:00:00Z", "1970-01-02T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"]
    )
)
history_point = st.fixed_dictionaries({"date": moments, "mean": numbers}) | json_value


@FEW
@given(st.lists(history_point, max_size=12))
def test_history_points_are_usable_or_counted_and_never_far_from_their_league(entries: list) -> None:
    base = datetime(2025, 6, 1, 22, tzinfo=UTC)
    good = [
        {"date": (base + timedelta(days=d)).isoformat(), "mean": 1.0 + d} for d in range(len(entries) + 1)
    ]
    points, bad = parse_history([*entries, *good], "h")
    assert len(points) + bad == len(entries) + len(good)
    assert (
        sum(1 for p in points if p.day_at >= base and p.mean >= 1.0) >= len(good) - bad
    )  # goods mostly kept
    days = sorted(p.day_at for p in points)
    if days:
        median = days[len(days) // 2]
        assert all(abs((d - median).days) <= MAX_DAYS_FROM_MEDIAN + 1 for d in days)
        assert all(0 < p.mean < float("inf") for p in points)


leaf = st.none() | st.booleans() | numbers.filter(lambda v: not isinstance(v, str)) | hostile_text
nested = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=12,
)


@settings(settings.get_profile(PROFILE))
@given(st.dictionaries(hostile_text, nested, max_size=5))
def test_csv_header_lines_are_one_text_cell_whatever_the_values(fields: dict) -> None:
    lines = csv_comment_lines(fields)
    for delimiter in (",", ";"):
        for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter):
            assert len(row) <= 1 and (not row or row[0].startswith("#")), row
    for line in lines:
        assert "\n" not in line and "\r" not in line
        json.loads(line.split(": ", 1)[1]) if ": " in line else None  # every value is still JSON


@FEW
@given(st.integers(1, 3000), st.sampled_from(["[", '{"a":']))
def test_any_nesting_depth_is_a_value_a_skipped_element_or_a_payload_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    element = opener * depth + "1" * (opener == '{"a":') + closer * depth
    try:
        data = decode_json(f"[{json.dumps(GOOD[0])}, {element}]".encode())
    except PayloadError:
        return
    if any(isinstance(e, TooDeep) for e in data):
        assert depth > 64
    parsed = parse_items(
        data,
        league="Settlers",
        category="currency",
        snapshot_at=SLOT,
        payload_hash="h",
        resolver=CurrencyResolver([]),
    )
    assert parsed.rows["currency"].to_list() == ["Divine Orb"]
