"""A ``PriceSource`` answering from recorded (or composed) POE Watch responses in a folder (offline, tests).

Which file answers which request: ``files`` first (the request as ``path?query``, parameters in the order the
source sends them, URL-encoded: ``/history?league=Settlers&id=2``), else the naming rule

    /leagues                         leagues.json
    /get?league=L&category=C         get_{C}_{l}.json
    /history?league=L&id=N           history_{l}_{N}.json

where ``l`` is the league name in lower case with every run of other characters than a-z and 0-9 as ``_``
(``Hardcore Settlers`` → ``hardcore_settlers``): the names of the spec's fixtures
(``get_currency_settlers.json``). A ``/get`` or ``/history`` with no recording answers JSON ``null``, which is
POE Watch's own "no data" (the snapshot metadata lists such a category under ``no_data_categories``);
``/leagues`` without one, a file outside the folder or a file that is not JSON is a ``SourceError``. Nothing
is retried and there is no circuit breaker: a file either is there or is not.
"""

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from poeconomy_assets.core.ingest import Fetched, PayloadError, SourceError, decode_json
from poeconomy_assets.resources.price_source import PriceSource

MAX_RECORDING_BYTES = 64 * 1024 * 1024


def league_slug(league: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", league.lower()).strip("_")


class RecordedPriceSource(PriceSource):
    """Answers from JSON files in ``directory`` (see the module docstring for which file answers what)."""

    directory: str
    files: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults per instance) request -> file name

    def location(self) -> str:
        return self.directory

    def get_leagues(self, log: Any = None) -> Fetched:
        return self._answer("/leagues", {}, "leagues.json", required=True)

    def get_items(self, league: str, category: str, log: Any = None) -> Fetched:
        params = {"league": league, "category": category}
        return self._answer("/get", params, f"get_{league_slug(category)}_{league_slug(league)}.json")

    def get_history(self, league: str, item_id: int, log: Any = None) -> Fetched:
        params = {"league": league, "id": item_id}
        return self._answer("/history", params, f"history_{league_slug(league)}_{int(item_id)}.json")

    def _answer(self, path: str, params: dict[str, Any], default: str, required: bool = False) -> Fetched:
        started = time.perf_counter()
        request = f"{path}?{urlencode(params)}" if params else path
        folder = Path(self.directory).resolve()
        file = (folder / self.files.get(request, default)).resolve()
        if not file.is_relative_to(folder):
            raise SourceError(f"recording {file} for {request} is outside {folder}")
        if not file.is_file():
            if required:
                raise SourceError(f"no recording of {request} in {folder} (expected {file.name})")
            body, url = b"null", f"recorded:{request}"  # POE Watch's "no data"
        else:
            if file.stat().st_size > MAX_RECORDING_BYTES:
                raise SourceError(f"recording {file} is over {MAX_RECORDING_BYTES} bytes")
            body, url = file.read_bytes(), file.as_uri()
        try:
            data = decode_json(body)
        except PayloadError as exc:
            raise SourceError(f"recording {file} for {request}: {exc}") from exc
        return Fetched(
            url=url,
            body=body,
            data=data,
            fetched_at=datetime.now(UTC),
            attempts=1,
            seconds=round(time.perf_counter() - started, 3),
        )
