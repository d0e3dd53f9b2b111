"""The spec's league rule on the composed /leagues fixtures."""

from datetime import UTC, datetime

from poeconomy_assets.core.ingest.leagues import LeagueRules, followed_leagues, parse_leagues

DURING_SETTLERS = datetime(2025, 1, 10, tzinfo=UTC)
AFTER_ROLLOVER = datetime(2025, 6, 20, tzinfo=UTC)


def test_only_the_seasonal_softcore_league_is_followed(spec_fixture) -> None:
    leagues, bad = parse_leagues(spec_fixture("leagues.json"))
    assert bad == 0 and len(leagues) == 6
    assert [lg.name for lg in followed_leagues(leagues, DURING_SETTLERS, LeagueRules())] == ["Settlers"]
    standard = next(lg for lg in leagues if lg.name == "Standard")
    assert standard.end is None and standard.start == datetime(2013, 1, 23, 20, tzinfo=UTC)


def test_rollover_switches_to_the_new_league(spec_fixture) -> None:
    leagues, _ = parse_leagues(spec_fixture("leagues_new_league.json"))
    assert [lg.name for lg in followed_leagues(leagues, AFTER_ROLLOVER, LeagueRules())] == ["Mercenaries"]
    # before Settlers' end both run: the old one keeps being followed until its end_date
    both = followed_leagues(leagues, datetime(2025, 6, 9, tzinfo=UTC), LeagueRules())
    assert [lg.name for lg in both] == ["Settlers"]


def test_excluded_modes_can_be_switched_on(spec_fixture) -> None:
    leagues, _ = parse_leagues(spec_fixture("leagues_new_league.json"))
    rules = LeagueRules(include_hardcore=True, include_standard=True)
    names = {lg.name for lg in followed_leagues(leagues, AFTER_ROLLOVER, rules)}
    assert names == {"Mercenaries", "Hardcore Mercenaries", "Standard", "Hardcore"}
