"""One bad row never sinks a payload: out-of-range numbers, deep nesting, control characters, huge names."""

import json
from datetime import UTC, datetime

import pytest

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver
from poeconomy_assets.core.ingest.poe_watch_payloads import (
    MAX_NAME_LENGTH,
    decode_json,
    parse_history,
    parse_items,
    parse_timestamp,
)

SLOT = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
GOOD = {
    "id": 1,
    "name": "Divine Orb",
    "category": "currency",
    "mean": 150.0,
    "min": 140.0,
    "max": 160.0,
    "daily": 900,
    "lowConfidence": False,
}


def _parse(items):
    return parse_items(
        items,
        league="Settlers",
        category="currency",
        snapshot_at=SLOT,
        payload_hash="h",
        resolver=CurrencyResolver([]),
    )


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"id": 2**63}, "number_out_of_range"),
        ({"id": 2**64 + 7}, "number_out_of_range"),
        ({"daily": 2**63}, "number_out_of_range"),
        ({"daily": 10**400}, "number_out_of_range"),
        ({"mean": 1e308 * 10}, "non_positive_mean"),  # inf
        ({"mean": 5e308}, "non_positive_mean"),
        ({"mean": 1.7e308}, "number_out_of_range"),
        ({"max": 1.7e308}, "number_out_of_range"),
        ({"mean": float("nan")}, "non_numeric"),
        ({"name": "Exalted\x00Orb"}, "bad_name"),
        ({"name": "Exalted\x07Orb"}, "bad_name"),
        ({"name": "Exalted\u202eOrb"}, "bad_name"),
        ({"name": "E" * 1_000_000}, "name_too_long"),
        ({"name": "E" * (MAX_NAME_LENGTH + 1)}, "name_too_long"),
    ],
)
def test_one_bad_row_is_a_named_skip_and_the_others_are_kept(bad: dict, reason: str) -> None:
    row = {**GOOD, "id": 3, "name": "Exalted Orb", "mean": 20.0, "min": 19.0, "max": 21.0, **bad}
    parsed = _parse([GOOD, row])
    assert parsed.rows["currency"].to_list() == ["Divine Orb"]
    assert parsed.count_table()[reason] == 1, parsed.problems
    assert [p["reason"] for p in parsed.problems if p["skipped"]] == [reason]
    assert len(parsed.problems[0]["detail"]) <= 120


def test_a_row_nested_100k_deep_is_skipped_and_the_payload_still_parses() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    good = json.dumps(GOOD)
    body = f'[{good}, {{"id": 5, "name": "Chaos Shard", "history": {deep}, "mean": 1}}]'.encode()
    data = decode_json(body)
    parsed = _parse(data)
    assert parsed.rows["currency"].to_list() == ["Divine Orb"]
    assert parsed.count_table()["too_deeply_nested"] == 1


def test_a_whole_body_nested_100k_deep_is_a_payload_error_not_a_crash() -> None:
    from poeconomy_assets.core.ingest.poe_watch_payloads import PayloadError

    with pytest.raises(PayloadError, match="nested"):
        decode_json(('{"a":' * 100_000 + "1" + "}" * 100_000).encode())


def test_dates_out_of_range_are_none_not_overflow() -> None:
    assert parse_timestamp("9999-12-31T23:59:59-23:59") is None
    assert parse_timestamp("0001-01-01T00:00:00+23:59") is None
    points, bad = parse_history(
        [{"date": "9999-12-31T23:59:59-23:59", "mean": 1}, {"date": "2025-06-01T00:00:00Z", "mean": 2}], "h"
    )
    assert bad == 1 and [p.mean for p in points] == [2]


def test_the_largest_int64_id_and_daily_are_kept_exactly() -> None:
    # found by the fuzz suite: 2**63 - 1 went through float, became 2**63 and overflowed Int64
    parsed = _parse([{**GOOD, "id": 2**63 - 1, "daily": 2**63 - 1}])
    assert parsed.rows["item_id"].to_list() == [2**63 - 1] and parsed.rows["daily"].to_list() == [2**63 - 1]
