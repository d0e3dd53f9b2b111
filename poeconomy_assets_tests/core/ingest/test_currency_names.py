"""One currency identity across sources: spelling variants resolve, near misses are reported, never merged."""

from datetime import date

import polars as pl
import pytest

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver, canonicalize_currencies

KNOWN = ["Jeweller's Orb", "Orb of Regret", "Divine Orb", "Armourer's Scrap"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Jeweller's Orb", "Jeweller's Orb"),
        ("jeweller's orb", "Jeweller's Orb"),  # case
        ("Jeweller\u2019s Orb", "Jeweller's Orb"),  # typographic apostrophe
        ("Jewellers Orb", "Jeweller's Orb"),  # apostrophe dropped
        ("  Orb   of Regret ", "Orb of Regret"),  # whitespace
        ("Jeweler's Orb", "Jeweller's Orb"),  # known alias (US spelling)
        ("Armorer's Scrap", "Armourer's Scrap"),
        ("Divine Orbs", "Divine Orb"),
        ("Kalomir Orb", "Kalomir Orb"),  # a new currency stays itself
    ],
)
def test_names_resolve_to_one_key(raw: str, expected: str) -> None:
    result = CurrencyResolver(KNOWN).resolve(raw)
    assert result.near_miss_of is None and result.name == expected


@pytest.mark.parametrize("raw, known", [("Orb of Regrets", "Orb of Regret"), ("Divne Orb", "Divine Orb")])
def test_near_miss_is_reported_not_merged(raw: str, known: str) -> None:
    resolved, near = CurrencyResolver(KNOWN).canonical_names([raw, "Divine Orb"])
    assert near == {raw: known}
    assert raw not in resolved and resolved["Divine Orb"] == "Divine Orb"


def test_dump_names_are_canonicalized_oldest_spelling_first_and_near_misses_reported() -> None:
    prices = pl.DataFrame(
        {
            "league": ["A", "A", "B", "B", "B"],
            "currency": [
                "Jeweller's Orb",
                "Orb of Regret",
                "jewellers  orb",
                "Orb of Regrets",
                "Jeweler's Orb",
            ],
            "date": [
                date(2020, 1, 1),
                date(2020, 1, 1),
                date(2020, 6, 1),
                date(2020, 6, 1),
                date(2020, 6, 1),
            ],
            "price_chaos": [0.1, 0.5, 0.12, 0.6, 0.13],
        }
    )
    result = canonicalize_currencies(prices)
    assert result.renamed == {"jewellers  orb": "Jeweller's Orb", "Jeweler's Orb": "Jeweller's Orb"}
    assert result.near_misses == {"Orb of Regrets": "Orb of Regret"}  # kept under its own name, reported
    assert result.merged_duplicates == 1  # two spellings on one league-day: one row kept
    assert sorted(result.prices["currency"].unique()) == ["Jeweller's Orb", "Orb of Regret", "Orb of Regrets"]
    assert result.prices.select("league", "currency", "date").is_duplicated().sum() == 0
