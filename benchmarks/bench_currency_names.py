"""CPU time to decode and parse one hostile ``/get`` body of N distinct currency names (default 8,000, ~1.1 MB).

    .venv/bin/python benchmarks/bench_currency_names.py [--names 8000] [--legacy 2000]

Every name is new and none is a near miss of another: the worst case for near-miss matching. ``--legacy N``
also times the matcher this replaced (difflib against every known name) on N names, to show its quadratic
growth (8,000 names took ~270 s of CPU with it).
"""

import argparse
import difflib
import json
import random
import time
from datetime import UTC, datetime

from poeconomy_assets.core.ingest import (
    NEAR_MISS_RATIO,
    CurrencyResolver,
    decode_json,
    match_key,
    parse_items,
)


def hostile_body(n: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    items = []
    for i in range(n):
        mean = round(rng.uniform(0.1, 100), 3)
        items.append(
            {
                "id": i + 1,
                "name": " ".join("".join(rng.choice(letters) for _ in range(6)) for _ in range(3)).title(),
                "category": "currency",
                "mean": mean,
                "min": 0.05,
                "max": 120.0,
                "daily": rng.randint(1, 500),
                "lowConfidence": False,
                "history": [round(mean * 0.97, 2)],
            }
        )
    return json.dumps(items).encode()


def parse_cpu_seconds(body: bytes) -> tuple[float, int]:
    started = time.process_time()
    parsed = parse_items(
        decode_json(body),
        league="Settlers",
        category="currency",
        snapshot_at=datetime(2025, 6, 20, 12, tzinfo=UTC),
        payload_hash="bench",
        resolver=CurrencyResolver([]),
    )
    return time.process_time() - started, parsed.rows.height


def legacy_cpu_seconds(names: list[str]) -> float:
    """The replaced matcher: difflib.get_close_matches against every name known so far."""
    started = time.process_time()
    known: dict[str, str] = {}
    for name in names:
        key = match_key(name)
        if key not in known and not difflib.get_close_matches(key, list(known), n=1, cutoff=NEAR_MISS_RATIO):
            known[key] = name
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=8000)
    parser.add_argument(
        "--legacy", type=int, default=0, metavar="N", help="also time the old matcher on N names"
    )
    args = parser.parse_args()
    for n in sorted({args.names // 4, args.names // 2, args.names}):
        body = hostile_body(n)
        seconds, rows = parse_cpu_seconds(body)
        print(f"{n:>6} names, {len(body) / 1e6:.2f} MB body: {seconds:6.2f} s CPU, {rows} rows accepted")
    if args.legacy:
        names = [item["name"] for item in json.loads(hostile_body(args.legacy))]
        print(f"legacy difflib matcher, {args.legacy} names: {legacy_cpu_seconds(names):.1f} s CPU")


if __name__ == "__main__":
    main()
