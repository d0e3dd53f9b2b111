"""Writing files so that a reader never sees half of one: the one atomic-write helper of the project."""

import os
import threading
from collections.abc import Callable
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether a process with this id still runs (a writer whose leftovers must not be removed yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_temporaries(path: Path) -> None:
    """Delete ``.{name}.{pid}.….tmp`` files beside ``path`` whose writing process no longer exists (a killed
    write leaves one behind; temporary files of live writers are left alone)."""
    prefix = f".{path.name}."
    for entry in path.parent.glob(f".{path.name}.*.tmp"):
        pid = entry.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            entry.unlink(missing_ok=True)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path`` in one step.

    The temporary name holds the process and thread ids, so concurrent writers never share one; it is removed
    if ``write`` fails, and the previous file at ``path`` is left as it was. Leftovers of killed writes of the
    same path are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
