"""Issue 21, hostile input round three: one odd character never loses a payload or a league list.

Lone surrogates (not valid Unicode text: they cannot be encoded, so polars, SQL drivers and file names refuse
them), names that grow under NFC normalisation past the 100-character limit, and league names the store would
refuse (NUL, bidi controls, 1 MB). Each is one named, counted skip; the good rows and leagues are kept.
"""

import unicodedata
from datetime import UTC, datetime

import pytest

from poeconomy_assets.core.ingest.currency_names import MAX_NAME_LENGTH, CurrencyResolver, name_problem
from poeconomy_assets.core.ingest.leagues import parse_leagues
from poeconomy_assets.core.ingest.poe_watch_payloads import PayloadError, parse_items
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.resources.price_store import validate_snapshots

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
GROWS = "\ufb2c" * 34  # 34 characters raw, 102 after NFC (each becomes three)


def _parse(items, league: str = "Settlers"):
    return parse_items(
        items,
        league=league,
        category="currency",
        snapshot_at=SLOT,
        payload_hash="h",
        resolver=CurrencyResolver([]),
    )


def test_the_example_name_really_grows_past_the_limit_under_nfc() -> None:
    assert len(GROWS) <= MAX_NAME_LENGTH < len(unicodedata.normalize("NFC", GROWS))


@pytest.mark.parametrize(
    "name, reason",
    [
        ("X \ud800", "bad_name"),
        ("\udfff Orb", "bad_name"),
        ("Orb \ud83d of pain", "bad_name"),  # half a pair, as a truncated emoji leaves it
        (GROWS, "name_too_long"),
        ("A\u0301" * 50, None),  # 100 characters raw, 50 after NFC: kept (the store sees the 50)
    ],
)
def test_one_bad_name_is_a_named_skip_and_the_good_rows_are_stored(name: str, reason: str | None) -> None:
    parsed = _parse([GOOD, {**GOOD, "id": 2, "name": name, "mean": 20.0, "min": 19.0, "max": 21.0}])
    validate_snapshots(parsed.rows)  # what the store checks: the accepted rows pass
    if reason is None:
        assert parsed.rows.height == 2
        return
    assert parsed.rows["currency"].to_list() == ["Divine Orb"]
    assert parsed.count_table()[reason] == 1
    assert [p["reason"] for p in parsed.problems if p["skipped"]] == [reason]
    detail = next(p["detail"] for p in parsed.problems if p["skipped"])
    detail.encode("utf-8")  # the reason can be shown and stored: no lone surrogate in it


def test_name_problem_checks_the_normalised_length_and_surrogates() -> None:
    assert name_problem(GROWS) == "name_too_long"
    assert name_problem("Divine \ud800") == "bad_name"
    assert name_problem("Divine Orb") is None


def test_a_surrogate_in_the_league_is_a_payload_error_not_a_crash() -> None:
    with pytest.raises(PayloadError, match="league"):
        _parse([GOOD], league="Settlers \ud800")


def test_a_key_from_a_surrogate_name_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        key_from_name("X \ud800")


@pytest.mark.parametrize("bad", ["Settlers \ud800", "Nul\x00League", "Std\u202eevil", "L" * 1_000_000, GROWS])
def test_one_bad_league_name_is_skipped_with_its_reason_and_the_others_kept(bad: str) -> None:
    data = [
        {"name": "Settlers", "start_date": "2024-07-26T20:00:00Z", "end_date": "0001-01-01T00:00:00Z"},
        {"name": bad, "start_date": "2024-07-26T20:00:00Z"},
        {"name": "Standard", "start_date": "2013-01-23T20:00:00Z"},
    ]
    problems: list[str] = []
    leagues, bad_count = parse_leagues(data, problems=problems)
    assert [lg.name for lg in leagues] == ["Settlers", "Standard"] and bad_count == 1
    assert len(problems) == 1 and ("bad_name" in problems[0] or "name_too_long" in problems[0])
    assert len(problems[0]) < 300
    problems[0].encode("utf-8")
    for league in leagues:
        key_from_name(league.name)  # every league kept can become a partition key
