"""Every bad-payload case of the spec is handled as its section 7 says, with a count per reason."""

from datetime import UTC, datetime

import pytest

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver
from poeconomy_assets.core.ingest.poe_watch_payloads import (
    PayloadError,
    decode_json,
    parse_history,
    parse_items,
    require_list,
)

SLOT = datetime(2024, 8, 5, 12, 0, tzinfo=UTC)


def _parse(data, known=(), last_prices=None):
    return parse_items(
        data,
        league="Settlers",
        category="currency",
        snapshot_at=SLOT,
        payload_hash="h" * 64,
        resolver=CurrencyResolver(known),
        last_prices=last_prices,
    )


def test_edge_case_fixture_keeps_only_usable_rows_and_counts_the_rest(spec_fixture) -> None:
    parsed = _parse(spec_fixture("get_currency_edge_cases.json"))
    rows = {r["currency"]: r for r in parsed.rows.iter_rows(named=True)}
    assert sorted(rows) == [
        "Cartographer's Chisel",
        "Chaos Orb",
        "Divine Orb",
        "Jeweller's Orb",
        "Orb of Annulment",
        "Orb of Regret",
    ]
    assert parsed.received == 16
    counts = parsed.count_table()
    assert counts["not_an_object"] == 2  # null element, string element
    assert counts["missing_id"] == 2  # id 0 with empty name, id null without name
    assert counts["missing_mean"] == 2  # all-null numbers, missing mean
    assert counts["non_positive_mean"] == 2  # negative, zero
    assert counts["price_jump"] == 1  # the 5.5e8 Regal Orb
    assert counts["duplicate_id"] == 1
    assert counts["mean_outside_min_max"] == 2  # kept, flagged (171.25 > 171 on the dropped twin; 2.7 < 2.95)
    assert counts["coerced_strings"] == 1
    # duplicated id 2: the row with the larger `daily` wins
    assert rows["Divine Orb"]["mean_chaos"] == 165.0 and rows["Divine Orb"]["daily"] == 2880
    # numeric strings coerced, padded name trimmed, odd-case and null categories normalised
    assert rows["Jeweller's Orb"]["mean_chaos"] == 0.11 and rows["Jeweller's Orb"]["item_id"] == 11
    assert rows["Orb of Regret"]["category"] == "currency"
    assert rows["Cartographer's Chisel"]["category"] == "currency"
    assert rows["Orb of Annulment"]["mean_chaos"] == 2.7  # outside [min, max] but kept
    assert all(p > 0 for p in parsed.rows["mean_chaos"])
    assert parsed.rows["currency"].is_duplicated().sum() == 0


def test_happy_fixture_parses_every_row(spec_fixture) -> None:
    parsed = _parse(spec_fixture("get_currency_settlers.json"))
    assert parsed.rows.height == 18
    assert parsed.count_table()["low_confidence"] == 1
    assert sum(v for k, v in parsed.count_table().items() if k != "low_confidence") == 0


def test_jump_against_the_last_accepted_price_is_rejected(spec_fixture) -> None:
    parsed = _parse(spec_fixture("get_currency_settlers.json"), last_prices={"Divine Orb": 1.0})
    assert "Divine Orb" not in parsed.rows["currency"].to_list()
    assert parsed.count_table()["price_jump"] == 1


@pytest.mark.parametrize(
    "body, content_type, fragment",
    [
        (b"", None, "empty response body"),
        (b"   \n", None, "empty response body"),
        (b"<!DOCTYPE html><html><title>503 Service Unavailable</title></html>", "text/html", "HTML page"),
        (b"<html>oops</html>", "application/json", "HTML page"),
        (b'[{"id": 1, "mean": 3', "application/json", "malformed JSON"),
    ],
)
def test_unusable_bodies_raise_payload_errors(body: bytes, content_type: str | None, fragment: str) -> None:
    with pytest.raises(PayloadError, match=fragment):
        decode_json(body, content_type)


def test_null_is_no_data_and_an_object_is_an_error() -> None:
    assert require_list(decode_json(b"null"), "/get") == []
    assert _parse(None).rows.is_empty()
    with pytest.raises(PayloadError, match="JSON dict, not a list"):
        _parse({"error": "Missing league"})


def test_history_points_parse_mixed_offsets(spec_fixture) -> None:
    points, bad = parse_history(spec_fixture("history_settlers_divine.json"), "/history")
    assert bad == 0 and len(points) == 10
    assert points[0].day_at == datetime(2024, 7, 27, 20, 0, 10, 410000, tzinfo=UTC)
    assert [p.day_at.date().isoformat() for p in points[:2]] == ["2024-07-27", "2024-07-28"]
