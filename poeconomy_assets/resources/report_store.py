"""Resource for the standalone report files (HTML) that users open outside Dagster."""

from pathlib import Path

import dagster as dg

from poeconomy_assets.core.files import atomic_write_text
from poeconomy_assets.core.keys import key_from_name


class ReportStore(dg.ConfigurableResource):
    """Reports under ``{base_dir}/{league key}.{ext}``; writes replace the previous file."""

    base_dir: str

    def path(self, league: str, extension: str) -> Path:
        return Path(self.base_dir, f"{key_from_name(league)}.{extension}")

    def write(self, league: str, extension: str, content: str) -> Path:
        path = self.path(league, extension)
        atomic_write_text(path, content)
        return path
