"""Partition keys that are safe in Dagster's UI and reversible back to the real name.

Real names contain apostrophes and spaces ("Xoph's Breachstone"); those stay readable.
Everything Dagster or its UI treats specially (commas, pipes, brackets, slashes, ...) is
escaped as ``~XX`` (hex of the UTF-8 byte), and ``~`` itself is escaped, so
``name_from_key(key_from_name(x)) == x`` for every string.

Keys are also file and folder names (models, data, reports): a key never contains ``/``, ``\\`` or NUL, and a
leading ``.`` is escaped, so no key is ``.``, ``..`` or a hidden file, and ``base / key`` stays under ``base``.
"""

import re

_SAFE = re.compile(r"[A-Za-z0-9 '.()\-]")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")
_SURROGATE = re.compile("[\ud800-\udfff]")


def key_from_name(name: str) -> str:
    """Encode a league or currency name as a partition key."""
    if not name or name != name.strip():
        raise ValueError(f"name {name!r} is empty or has leading/trailing whitespace")
    surrogate = _SURROGATE.search(name)
    if surrogate:  # not text: no UTF-8 byte to escape it as (and no file or partition can hold it)
        raise ValueError(
            f"name {name[:60]!r} holds a lone surrogate U+{ord(surrogate.group()):04X} at position "
            f"{surrogate.start()}: not valid Unicode text, so it cannot be a key"
        )
    out: list[str] = []
    for position, ch in enumerate(name):
        if _SAFE.fullmatch(ch) and not (position == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"~{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def name_from_key(key: str) -> str:
    """Decode a partition key made by :func:`key_from_name`."""
    raw = bytearray()
    i = 0
    while i < len(key):
        m = _ESCAPE.match(key, i)
        if m:
            raw.append(int(m.group(1), 16))
            i = m.end()
        else:
            raw.extend(key[i].encode("utf-8"))
            i += 1
    return raw.decode("utf-8")
