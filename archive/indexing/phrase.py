"""An exact phrase query for bigram fields, faster than Whoosh's span machinery.

Whoosh's ``Phrase`` runs a generic span algorithm (Span objects, sets and sorts per pair of
words). A slot phrase only needs: is there a position p such that word i stands at p + offset i
for every i? That is a few set operations per candidate document, done here. Candidates come from
the same intersection of term matchers that Whoosh uses.
"""
from __future__ import annotations

from whoosh import query as Q
from whoosh.matching import NullMatcher, WrappingMatcher
from whoosh.matching.binary import IntersectionMatcher
from whoosh.util import make_binary_tree


class BigramPhrase(Q.Phrase):
    """Words at given relative positions (``offsets``; consecutive when not given), with a
    faster matcher than Whoosh's ``Phrase``."""

    def __init__(self, fieldname, words, offsets=None, boost=1.0):
        super().__init__(fieldname, words, slop=1, boost=boost)
        self.offsets = list(offsets) if offsets is not None else list(range(len(words)))

    def __eq__(self, other):
        return super().__eq__(other) and self.offsets == getattr(other, "offsets", None)

    def __hash__(self):
        return super().__hash__() ^ hash(tuple(self.offsets))

    def normalize(self):
        if len(self.words) == 1:
            return Q.Term(self.fieldname, self.words[0], boost=self.boost)
        return self

    def _and_query(self):
        return Q.And([Q.Term(self.fieldname, w) for w in self.words])

    def matcher(self, searcher, context=None):
        fieldname = self.fieldname
        if fieldname not in searcher.schema:
            return NullMatcher()
        field = searcher.schema[fieldname]
        reader = searcher.reader()
        unique: dict[bytes, list[int]] = {}
        for offset, word in zip(self.offsets, self.words):
            try:
                b = field.to_bytes(word)
            except ValueError:
                return NullMatcher()
            if (fieldname, b) not in reader:
                return NullMatcher()  # a word that is nowhere: nothing can match
            unique.setdefault(b, []).append(offset)
        terms = list(unique.items())
        matchers = [Q.Term(fieldname, b).matcher(searcher, context) for b, _ in terms]
        offsets = [offs for _, offs in terms]
        if len(matchers) == 1 and len(offsets[0]) == 1:
            return matchers[0]
        child = make_binary_tree(IntersectionMatcher, matchers)
        m = _PhraseMatcher(child, matchers, offsets)
        if self.boost != 1.0:
            m = WrappingMatcher(m, boost=self.boost)
        return m


class _PhraseMatcher(WrappingMatcher):
    """Matches documents of ``child`` (the intersection) where the words stand in sequence."""

    def __init__(self, child, terms, offsets):
        super().__init__(child)
        self._terms = terms
        self._offsets = offsets
        if self.child.is_active() and not self._in_sequence():
            self._advance()

    def _in_sequence(self) -> bool:
        # Candidate starts: from the word with the fewest positions, then filter by the others.
        lists = []
        for m, offs in zip(self._terms, self._offsets):
            lists.append((m.value_as("positions"), offs))
        lists.sort(key=lambda item: len(item[0]))
        positions, offs = lists[0]
        starts = {p - offs[0] for p in positions}
        for o in offs[1:]:
            starts &= {p - o for p in positions}
        for positions, offs in lists[1:]:
            if not starts:
                return False
            present = set(positions)
            starts = {s for s in starts if all(s + o in present for o in offs)}
        return bool(starts)

    def _advance(self) -> bool:
        r = False
        child = self.child
        while child.is_active():
            r = child.next() or r
            if not child.is_active() or self._in_sequence():
                break
        return r

    def next(self):
        r = self.child.next()
        if self.child.is_active() and not self._in_sequence():
            r = self._advance() or r
        return r

    def skip_to(self, id):
        r = self.child.skip_to(id)
        if self.child.is_active() and not self._in_sequence():
            r = self._advance() or r
        return r

    def all_ids(self):
        while self.is_active():
            yield self.id()
            self.next()

    def copy(self):
        return _PhraseMatcher(self.child.copy(), self._terms, self._offsets)

    def replace(self, minquality=0):
        return self if self.is_active() else NullMatcher()

    def supports_block_quality(self):
        return False

    def _replacement(self, newchild):
        return _PhraseMatcher(newchild, self._terms, self._offsets)
