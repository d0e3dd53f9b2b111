"""Resource pointing at a directory of poe.ninja currency dumps (``{League}.currency.csv``)."""

from pathlib import Path

import dagster as dg

from poeconomy_assets.core.ingest import DumpImport, read_dump_dir


class PoeNinjaDumps(dg.ConfigurableResource):
    """Where past leagues' poe.ninja dumps live. ``strict`` turns quarantined rows into errors."""

    directory: str
    strict: bool = False

    def read(self) -> DumpImport:
        return read_dump_dir(Path(self.directory), strict=self.strict)
