"""How the text of a search query matches datasets: the full-text index, and the
typo-tolerant match tried when the exact one finds nothing (see ``search`` for the index).

Typo tolerance, only when the exact query finds nothing the reader may see:

* PostgreSQL: ``pg_trgm``: the folded query's ``word_similarity`` with a continuous extent of
  ``search_text`` at least 0.7 (``<%`` finds the candidates through the trigram index of
  migration 0035), ranked by that similarity (title counted twice): "truong hco" finds
  "Trường học", "giao duc dao tap" finds "Giáo dục và Đào tạo"; "uong" (inside "truong")
  and "giang hanoi" find nothing.
* SQLite: each word of the query (3 letters or more) may also be any word of the index one
  typo away (two for 8 letters or more: a letter missing, extra, changed, or two swapped;
  the FTS5 vocabulary ``opendata_dataset_fts_vocab`` read and compared in Python), then the
  FTS5 query runs again with those alternatives: "truong hco" finds "Trường học", "giao duc
  dao tap" finds "Giáo dục và Đào tạo"; "giang hanoi" still finds nothing.

When the typo-tolerant match answered, ``corrected_words`` names the words it used: each
query word as the best answer's title or text has it (the word itself when it starts one of
its words, else its closest word there), in the folded and in the written form.

Every query word is quoted (FTS5) or reduced to ``[a-z0-9]`` (tsquery) before it reaches
the index, so FTS syntax in q (quotes, ``*``, ``NEAR``, ``-``, ``:``) is only text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    true,
)

from tinhso.opendata.catalogue.folding import search_words
from tinhso.opendata.models import OpendataDataset

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Match:
    """How the text of the query matches: what to join, the condition and the score."""

    joined: Callable[[], FromClause] | None
    condition: ColumnElement[bool]
    score: ColumnElement[Any]

    def source(self) -> FromClause:
        return self.joined() if self.joined is not None else OpendataDataset.__table__


EVERYTHING = Match(None, true(), literal(0))
_FTS_NAME = "opendata_dataset_fts"
_FTS = table(_FTS_NAME, column("dataset_id"), column("title"), column("body"))
_FTS_VOCABULARY = table(f"{_FTS_NAME}_vocab", column("term"))
_TITLE_WEIGHT = 3.0  # SQLite bm25: a word in the title (name, titles, tags) against the body
_SEARCH_VECTOR: ColumnElement[Any] = literal_column("opendata_dataset.search_vector")
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
_FUZZY_WORDS_MAX = 8  # longer queries are not corrected (the closest words of each cost time)
_CLOSE_WORDS = 5  # the closest words of the index tried for a word (SQLite)
# pg_trgm's word_similarity of the folded query with a stretch of the text: "truong hco" ~
# "truong hoc" 0.73, "giao duc dao tap" ~ "giao duc va dao tao" 0.81; not "uong" in "truong"
# (0.6, the operator's default threshold) nor "truong lich" (0.67) nor "giang hanoi" (0.5).
_SIMILAR_ENOUGH = 0.7
_TYPO_WORD_MIN = 3
_TWO_TYPOS_WORD_MIN = 8


def _joined_index() -> FromClause:
    return OpendataDataset.__table__.join(_FTS, _FTS.c.dataset_id == OpendataDataset.id)


def _fts5_match(expression: str) -> Match:
    index: ColumnElement[Any] = literal_column(_FTS_NAME)
    return Match(
        _joined_index,
        index.op("MATCH")(literal(expression)),
        -func.bm25(index, 0.0, _TITLE_WEIGHT, 1.0),
    )


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def full_text(dialect: str, words: list[str]) -> Match:
    """Every word starts a word of the dataset's title or text (its folded columns)."""
    if dialect == "postgresql":
        tsquery = func.to_tsquery(_SIMPLE, literal(" & ".join(f"{word}:*" for word in words)))
        return Match(None, _SEARCH_VECTOR.op("@@")(tsquery), func.ts_rank(_SEARCH_VECTOR, tsquery))
    return _fts5_match(" ".join(f"{_quoted(word)}*" for word in words))


def fuzzy(session: Session, dialect: str, words: list[str]) -> Match | None:
    """The typo-tolerant match, tried when the exact one finds nothing (None: no attempt)."""
    if len(words) > _FUZZY_WORDS_MAX:
        return None
    if dialect == "postgresql":
        folded = " ".join(words)
        return Match(
            None,
            and_(
                literal(folded).op("<%")(OpendataDataset.search_text),  # the trigram index
                func.word_similarity(folded, OpendataDataset.search_text) >= _SIMILAR_ENOUGH,
            ),
            func.word_similarity(folded, OpendataDataset.search_title)
            + func.word_similarity(folded, OpendataDataset.search_text),
        )
    vocabulary = list(session.scalars(select(_FTS_VOCABULARY.c.term)))
    alternatives: list[str] = []
    for word in words:
        starts = any(term.startswith(word) for term in vocabulary)
        close = [_quoted(term) for term in _close_words(word, vocabulary)]
        options = ([f"{_quoted(word)}*"] if starts else []) + close
        if not options:
            return None  # a word like no word of the catalogue: nothing can match
        alternatives.append(options[0] if len(options) == 1 else f"({' OR '.join(options)})")
    return _fts5_match(" AND ".join(alternatives))  # FTS5 wants AND before a "("


def _close_words(word: str, vocabulary: list[str]) -> list[str]:
    """The index's words one typo away from ``word`` (a letter missing, extra, changed or two
    swapped: "hco" → "hoc", "tap" → "tao"); two typos for words of 8 letters or more; none
    for words shorter than 3 letters (one typo would make them any word)."""
    if len(word) < _TYPO_WORD_MIN:
        return []
    most = 1 if len(word) < _TWO_TYPOS_WORD_MIN else 2
    found = [
        term
        for term in vocabulary
        if abs(len(term) - len(word)) <= most and term != word and _typos(word, term, most) <= most
    ]
    return sorted(
        found, key=lambda term: (_typos(word, term, most), abs(len(term) - len(word)), term)
    )[:_CLOSE_WORDS]


def _typos(first: str, second: str, most: int) -> int:
    """Edits (insert, delete, change, swap two neighbours) from one word to the other: the
    optimal string alignment distance, given up (most + 1) once it must exceed ``most``."""
    before: list[int] | None = None
    previous = list(range(len(second) + 1))
    for i, left in enumerate(first, 1):
        current = [i] + [0] * len(second)
        for j, right in enumerate(second, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right))
            if (
                before is not None
                and i > 1
                and j > 1
                and left == second[j - 2]
                and first[i - 2] == right
            ):
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > most:
            return most + 1
        before, previous = previous, current
    return previous[-1]


_WORD = re.compile(r"\w+")


def corrected_words(words: list[str], texts: list[str]) -> tuple[str, str]:
    """The words the typo-tolerant match used for ``words`` (folded), read from the best
    answer's ``texts`` (its title, then its notes): (folded, as written there, lower case).
    A word found as it is, or with no close word there, stays as typed."""
    written: dict[str, str] = {}
    for text in texts:
        for token in _WORD.findall(text or ""):
            folded = "".join(search_words(token))
            if folded:
                written.setdefault(folded, token.lower())
    folded_words: list[str] = []
    shown_words: list[str] = []
    for word in words:
        used = word
        if not any(term.startswith(word) for term in written):
            most = 1 if len(word) < _TWO_TYPOS_WORD_MIN else 2
            close = sorted(
                (_typos(word, term, most), term)
                for term in written
                if abs(len(term) - len(word)) <= most
            )
            if close and close[0][0] <= most:
                used = close[0][1]
        folded_words.append(used)
        shown_words.append(written.get(used, used))
    return " ".join(folded_words), " ".join(shown_words)
