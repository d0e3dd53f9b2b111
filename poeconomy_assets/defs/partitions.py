"""Every partitions definition of the graph, defined once so assets, jobs and sensors agree.

Keys are made with ``core.keys.key_from_name`` (readable, reversible, no commas/pipes/brackets).
"""

import dagster as dg

from poeconomy_assets.core.keys import key_from_name, name_from_key
from poeconomy_assets.core.schemas import HORIZONS

league_partitions = dg.DynamicPartitionsDefinition(name="league")
currency_partitions = dg.DynamicPartitionsDefinition(name="currency")
horizon_partitions = dg.StaticPartitionsDefinition(list(HORIZONS))
currency_horizon_partitions = dg.MultiPartitionsDefinition(
    {"currency": currency_partitions, "horizon": horizon_partitions}
)


def currency_horizon_key(currency: str, horizon: str) -> dg.MultiPartitionKey:
    """The partition key of one (currency name, horizon) model."""
    return dg.MultiPartitionKey({"currency": key_from_name(currency), "horizon": horizon})


def currency_horizon_keys(currency_keys: list[str]) -> list[str]:
    """Every ``currency|horizon`` key of the given currency partition keys."""
    return [str(dg.MultiPartitionKey({"currency": c, "horizon": h})) for c in currency_keys for h in HORIZONS]


def split_currency_horizon(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(currency name, horizon) from a ``currency|horizon`` partition key."""
    if not isinstance(key, dg.MultiPartitionKey):
        currency_key, horizon = str(key).split("|")
    else:
        currency_key, horizon = key.keys_by_dimension["currency"], key.keys_by_dimension["horizon"]
    return name_from_key(currency_key), horizon


def known_currencies(instance: dg.DagsterInstance) -> list[str]:
    """Names of the currency partitions (every currency seen in dumps or earlier snapshots)."""
    return [name_from_key(k) for k in instance.get_dynamic_partitions(currency_partitions.name)]


def register_partitions(
    instance: dg.DagsterInstance, leagues: list[str], currencies: list[str]
) -> dict[str, list[str]]:
    """Add league and currency partitions that do not exist yet; returns the names newly added."""
    added: dict[str, list[str]] = {}
    for definition, names in ((league_partitions, leagues), (currency_partitions, currencies)):
        existing = set(instance.get_dynamic_partitions(definition.name))
        new = [n for n in names if key_from_name(n) not in existing]
        if new:
            instance.add_dynamic_partitions(definition.name, [key_from_name(n) for n in new])
        added[definition.name] = new
    return added
