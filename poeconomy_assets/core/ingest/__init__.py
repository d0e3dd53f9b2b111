"""Reading the sources: poe.ninja dump files, POE Watch payloads, currency-name identity, which leagues to follow,
the circuit breaker in front of the API, and daily prices built from live 5-minute snapshots. Bad input is named
(file, line, field) or quarantined here, before any price reaches a table."""
