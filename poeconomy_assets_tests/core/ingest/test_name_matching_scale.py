"""Name matching grows linearly: thousands of distinct names cost a bounded number of comparisons each."""

import difflib
import random

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver


def _names(n: int, seed: int = 3) -> list[str]:
    """Distinct random names, none a near miss of another (what a hostile payload would send)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        " ".join("".join(rng.choice(letters) for _ in range(6)) for _ in range(3)).title() for _ in range(n)
    ]


def test_comparisons_per_name_stay_bounded_as_the_known_set_grows(monkeypatch) -> None:
    calls = {"n": 0}
    real = difflib.SequenceMatcher.set_seq1

    def counting(self, a):  # one call per candidate compared, in difflib's get_close_matches and elsewhere
        calls["n"] += 1
        return real(self, a)

    monkeypatch.setattr(difflib.SequenceMatcher, "set_seq1", counting)
    per_name = []
    for n in (500, 4000):
        calls["n"] = 0
        resolver = CurrencyResolver([])
        resolver.canonical_names(_names(n))
        per_name.append(calls["n"] / n)
    # difflib over every known name: ~n/2 comparisons per name, growing with n. Bounded: the same at 4000.
    assert per_name[1] <= max(per_name[0], 1.0) * 1.5 + 2, per_name


def test_near_misses_are_still_found_among_many_names() -> None:
    many = _names(3000)
    resolver = CurrencyResolver(["Orb of Regret", "Divine Orb", *many])
    assert resolver.resolve("Orb of Regrett").near_miss_of == "Orb of Regret"
    assert resolver.resolve("Divne Orb").near_miss_of == "Divine Orb"
    assert resolver.resolve("Orb of Regrets").near_miss_of == "Orb of Regret"
    assert resolver.resolve(many[17]).near_miss_of is None  # known exactly
    assert resolver.resolve(many[17][:-1] + "#").near_miss_of == many[17]  # one letter changed
    assert resolver.resolve(many[17][1:]).near_miss_of == many[17]  # one letter dropped


def _near_identical(n: int, length: int = 100, seed: int = 5) -> list[str]:
    """Issue 21's worst case: thousands of 100-character names two letters apart from each other."""
    rng = random.Random(seed)
    base = [rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(length)]
    names: dict[str, None] = {}
    while len(names) < n:
        name = list(base)
        for _ in range(2):
            name[rng.randrange(length)] = rng.choice("abcdefghijklmnopqrstuvwxyz")
        names["".join(name)] = None
    return list(names)


def test_near_identical_long_names_cost_a_bounded_number_of_comparisons_and_index_entries(
    monkeypatch,
) -> None:
    from poeconomy_assets.core.ingest import currency_names

    calls = {"n": 0}
    real = difflib.SequenceMatcher.set_seq1

    def counting(self, a):
        calls["n"] += 1
        return real(self, a)

    monkeypatch.setattr(difflib.SequenceMatcher, "set_seq1", counting)
    names = _near_identical(8000)
    resolver = CurrencyResolver([names[0]])
    for name in names:
        resolver.resolve(name)
    # 8.7 CPU-s before: up to 32 difflib comparisons of 100 characters per name, and every name indexed
    assert calls["n"] <= currency_names.MAX_COMPARED * len(names)
    assert resolver._indexed_new <= currency_names.MAX_INDEXED_NEW
    entries = sum(len(bucket) for bucket in resolver._index._buckets.values())
    assert entries <= (currency_names.MAX_INDEXED_NEW + 1) * 101
