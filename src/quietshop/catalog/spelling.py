"""Typo tolerance for search: correct each query word to the nearest catalog word.

A symmetric-delete index (as in SymSpell) finds candidates within edit distance 2 by
dictionary lookups instead of comparing against every word, so correction costs
microseconds on a catalog vocabulary of thousands of words.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable

WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_DISTANCE = 2
# Texts or words between two calls of a build's pause: about a millisecond of work.
PAUSE_EVERY = 200


def words_of(text: str) -> list[str]:
    """Lower-case words of letters and digits; every other character separates words."""
    return [w for w in WORD.findall(text.casefold()) if w]


def _deletes(word: str, distance: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(distance):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): swaps of neighbours cost 1."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def allowed_distance(word: str) -> int:
    if len(word) <= 3:
        return 0
    return 1 if len(word) <= 5 else MAX_DISTANCE


class Vocabulary:
    """The words of the catalog, with how often each occurs, for prefix checks and correction."""

    def __init__(self, texts: Iterable[str], pause: Callable[[], None] | None = None) -> None:
        """``pause`` is called every few hundred texts and words while building: a
        background rebuild lets the event loop have the GIL there (memo.py)."""
        self.counts: Counter[str] = Counter()
        for i, text in enumerate(texts, 1):
            self.counts.update(words_of(text))
            if pause is not None and i % PAUSE_EVERY == 0:
                pause()
        # A delete shared by one word (most of them) maps to that word, not to a list: at
        # 100,000 products that is 114,000 fewer lists, and the garbage collector, which
        # stops every thread while it walks lists, ran 90 ms passes over them mid-build.
        self._by_delete: dict[str, str | list[str]] = {}
        for i, word in enumerate(self.counts, 1):
            if pause is not None and i % PAUSE_EVERY == 0:
                pause()
            if len(word) > 40:
                continue
            for variant in _deletes(word, allowed_distance(word)):
                held = self._by_delete.get(variant)
                if held is None:
                    self._by_delete[variant] = word
                elif isinstance(held, str):
                    self._by_delete[variant] = [held, word]
                else:
                    held.append(word)
        self._sorted = sorted(self.counts)

    def has_prefix(self, prefix: str) -> bool:
        i = bisect_left(self._sorted, prefix)
        return i < len(self._sorted) and self._sorted[i].startswith(prefix)

    def correct(self, word: str) -> str:
        """The word itself if some catalog word starts with it, else its nearest catalog word."""
        if self.has_prefix(word) or len(word) > 40:
            return word
        limit = allowed_distance(word)
        if limit == 0:
            return word
        best: tuple[int, int, str] | None = None
        for variant in _deletes(word, limit):
            held = self._by_delete.get(variant, ())
            for candidate in (held,) if isinstance(held, str) else held:
                distance = edit_distance(word, candidate)
                if distance > limit:
                    continue
                key = (distance, -self.counts[candidate], candidate)
                if best is None or key < best:
                    best = key
        return best[2] if best else word
