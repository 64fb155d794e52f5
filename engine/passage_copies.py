"""Where the same text appears more than once in a subject access export.

A safeguarding concern's words are in its record, in the chronology entry that recorded it
(its answers and its summary), and maybe in a later form's answers; a case note's words can be
typed again into a form. A reviewer who withholds one place and misses another has disclosed
what they meant to withhold, so marking offers the other places (``engine.redaction.mark``
with ``copies``), and the reviewer's page flags any place still showing withheld text.

Two passages are copies when, after collapsing whitespace runs and trimming (case kept), one
holds the other's text: equal, or the shorter inside the longer (an entry's summary quotes the
concern it records). The shorter must have at least ``MIN_LENGTH`` characters: "Yes", "No",
dates, single words and usernames repeat across any record without disclosing anything, and
matching them would offer to withhold half the export; a sentence of free text is longer.
Short repeats (a name alone, say) are left to the reviewer to mark one by one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from engine.subject_access import SubjectAccessExport
from engine.subject_access_record import Item, Passage

MIN_LENGTH = 20
_GAP = "\x00"  # between texts in the search string; never part of a normalised text


def normalised(text: str) -> str:
    """The text as compared: whitespace runs collapsed to one space, trimmed, case kept."""
    return " ".join(text.replace(_GAP, " ").split())


@dataclass(frozen=True)
class Place:
    """A passage and the entry it belongs to, where the same text appears."""

    item: Item
    passage: Passage

    @property
    def key(self) -> str:
        """The key a mark names to withhold this place."""
        return self.passage.key

    @property
    def whole_item(self) -> bool:
        """Whether marking this place withholds its whole entry (the entry's own summary)."""
        return self.passage.key == self.item.key


def collapsed(places: list[Place]) -> list[Place]:
    """The places without those inside an entry whose summary is among them (the summary's
    place stands for the whole entry)."""
    whole = {p.item.key for p in places if p.whole_item}
    return [p for p in places if p.whole_item or p.item.key not in whole]


class SameText:
    """The copies relation over one export's passages, computed once."""

    def __init__(self, export: SubjectAccessExport) -> None:
        self._places: list[Place] = []
        self._index: dict[str, int] = {}
        self._by_item: dict[str, list[int]] = {}
        for item in export.items():
            self._by_item[item.key] = []
            for passage in item.passages:
                self._index[passage.key] = len(self._places)
                self._by_item[item.key].append(len(self._places))
                self._places.append(Place(item, passage))
        self._links = self._find_links([normalised(p.passage.text) for p in self._places])

    def same_text(self, passage_key: str) -> list[Place]:
        """The other passages holding this passage's text, or held in it."""
        found = self._index.get(passage_key)
        return [] if found is None else [self._places[i] for i in sorted(self._links[found])]

    def copies_of(self, key: str) -> list[Place]:
        """The places outside what marking ``key`` withholds (the passage, or every passage of
        the entry) that hold its text, in export order. Where a copy is an entry's summary,
        which withholds the whole entry, that entry's other copies are left out."""
        covered = set(self._covered(key))
        found = sorted(set().union(*(self._links[i] for i in covered)) - covered)
        return collapsed([self._places[i] for i in found])

    def _covered(self, key: str) -> Iterable[int]:
        if key in self._by_item:
            return self._by_item[key]
        return [self._index[key]] if key in self._index else []

    @staticmethod
    def _find_links(texts: list[str]) -> list[set[int]]:
        # One search string of every text, so each look-up is one C-speed scan rather than
        # a comparison with every other passage in Python.
        starts, offset = [], 0
        for text in texts:
            starts.append(offset)
            offset += len(text) + len(_GAP)
        haystack = _GAP.join(texts)
        links: list[set[int]] = [set() for _ in texts]
        for i, text in enumerate(texts):
            if len(text) < MIN_LENGTH:
                continue
            at = haystack.find(text)
            while at != -1:
                host = bisect_right(starts, at) - 1
                if host != i:
                    links[i].add(host)
                    links[host].add(i)
                at = haystack.find(text, at + 1)
        return links
