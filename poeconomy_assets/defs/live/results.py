"""What plain ingestion code (``core/ingest``) returns or raises, as Dagster sees it: metadata and step failures."""

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dagster as dg

from poeconomy_assets.core.ingest import IngestFailure
from poeconomy_assets.core.report import Markdown


def as_metadata(values: Mapping[str, object]) -> dict[str, object]:
    """Metadata that plain code built, for Dagster: Markdown rendered, dicts as JSON, None as null."""
    return {key: _metadata_value(value) for key, value in values.items()}


def _metadata_value(value: object) -> object:
    if isinstance(value, Markdown):
        return dg.MetadataValue.md(str(value))
    if isinstance(value, dict):
        return dg.MetadataValue.json(json.loads(json.dumps(value)))
    if value is None:
        return dg.MetadataValue.null()
    return value


@contextmanager
def failing_step() -> Iterator[None]:
    """An IngestFailure (the source gave up, an unusable payload) fails the step with its description and
    metadata."""
    try:
        yield
    except IngestFailure as exc:
        raise dg.Failure(description=exc.description, metadata=as_metadata(exc.metadata)) from exc
