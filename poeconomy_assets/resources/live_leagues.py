"""Which POE Watch leagues the sensors follow (the spec's rule; every exclusion can be switched off)."""

import dagster as dg

from poeconomy_assets.core.ingest import LeagueRules


class LiveLeagues(dg.ConfigurableResource):
    """Standard, Hardcore, Ruthless, SSF and event leagues are skipped unless included here."""

    include_standard: bool = False
    include_hardcore: bool = False
    include_ruthless: bool = False
    include_ssf: bool = False
    include_events: bool = False
    extra: list[str] = []  # noqa: RUF012 (pydantic copies defaults) league names followed whatever they say
    refresh_seconds: int = (
        3 * 3600
    )  # how often the ingestion sensor re-reads /leagues (the spec: every few hours)

    def rules(self) -> LeagueRules:
        return LeagueRules(
            self.include_standard,
            self.include_hardcore,
            self.include_ruthless,
            self.include_ssf,
            self.include_events,
            tuple(self.extra),
        )
