"""Vietnamese text folded to ASCII: for dataset names (slugs) and for search.

"Trường học" → ``truong hoc`` (search) and ``truong-hoc`` (slug); đ/Đ → d, which Unicode
decomposition does not do (it is a letter of its own, not d with a mark).
"""

from __future__ import annotations

import re

from tinhso.core.text import fold

NAME_PATTERN = re.compile(r"[a-z0-9_-]{2,100}")
NAME_MAX_LENGTH = 100
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_NOT_SLUG = re.compile(r"[^a-z0-9_-]+")


def search_words(text: str) -> list[str]:
    """The folded words of ``text``, as search stores and matches them."""
    return [word for word in _NOT_WORD.split(fold(text)) if word]


def search_column(*texts: str) -> str:
    """A shadow column's value: folded words, one space before each (word-start matching)."""
    words = [word for text in texts for word in search_words(text)]
    return "".join(f" {word}" for word in words) + " "


def slug(text: str) -> str:
    """A dataset name made from a title: "Trường học" → "truong-hoc" (at most 100 characters)."""
    folded = _NOT_SLUG.sub("-", fold(text).replace(" ", "-"))
    folded = re.sub(r"-{2,}", "-", folded).strip("-_")
    return folded[:NAME_MAX_LENGTH].rstrip("-_")
