"""Name matching grows linearly: thousands of distinct names cost a bounded number of comparisons each."""

import difflib
import random

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver


def _names(n: int, seed: int = 3) -> list[str]:
    """Distinct random names, none a near miss of another (what a hostile payload would send)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [" ".join("".join(rng.choice(letters) for _ in range(6)) for _ in range(3)).title() for _ in range(n)]


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
