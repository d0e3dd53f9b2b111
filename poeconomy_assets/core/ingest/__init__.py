"""Reading the sources: poe.ninja dump files, POE Watch payloads (a table of row rules), currency-name identity,
which leagues to follow, what every price source returns and raises (sources.py), the retries and circuit breaker
in front of a remote one, one live snapshot of a league (snapshot.py), and daily prices built from live 5-minute
snapshots. Bad input is named (file, line, field) or quarantined here, before any price reaches a table."""
