"""Text that users type in and that files carry out: control characters and formula cells.

At input, control characters are refused in every text field (a comment or a note may
hold tabs and line breaks, LF or CR LF, nothing else). At output, a file format that cannot carry a
character loses it rather than failing the export (XLSX has no C0 controls; UTF-8 has no
lone surrogates), and a text cell that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is neutralised.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# C0 and C1 controls and DEL; surrogates cannot be encoded at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Line breaks are LF or CR LF (browsers send a textarea's line breaks as CR LF).
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What an XLSX cell (XML 1.0) cannot hold; tab, line feed and carriage return it can.
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first control character of ``text`` (as ``U+0007``), or None if there is none."""
    found = (_CONTROL_EXCEPT_LINES if multiline else _CONTROL).search(text)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X}"


def _refuse(multiline: bool) -> AfterValidator:
    def check(text: str) -> str:
        found = control_character(text, multiline=multiline)
        if found is not None:
            allowed = " (except tab and line break)" if multiline else ""
            msg = (
                f"Văn bản chứa ký tự điều khiển {found}, không được phép / "
                f"the text holds the control character {found}, which is not allowed{allowed}"
            )
            raise ValueError(msg)
        return text

    return AfterValidator(check)


# Annotate a text type with one of these to refuse control characters at input.
SingleLine = _refuse(multiline=False)
MultiLine = _refuse(multiline=True)
PlainText = Annotated[str, SingleLine]
NoteText = Annotated[str, MultiLine]


def for_xlsx(text: str) -> str:
    """``text`` without what an XLSX cell cannot hold (the export then cannot fail)."""
    return _NOT_IN_XLSX.sub("", text)


def for_utf8(text: str) -> str:
    """``text`` without lone surrogates (which no UTF-8 file can hold) and NUL."""
    return re.sub(r"[\x00\ud800-\udfff]", "", text)


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read this text cell as a formula (or something like one)."""
    return text.startswith(FORMULA_STARTS)


def neutralise_formula(text: str) -> str:
    """A text cell a spreadsheet shows as typed: ``=SUM(A1)`` -> ``'=SUM(A1)``."""
    return "'" + text if is_formula_like(text) else text


def unneutralise_formula(text: str) -> str:
    """The text a neutralised cell stood for (a re-import gives back what was stored)."""
    if text.startswith("'") and is_formula_like(text[1:]):
        return text[1:]
    return text


def fold(text: str) -> str:
    """Text as people type it when they skip Vietnamese diacritics: lower case, no marks,
    đ as d, runs of white space as one space ("Bích Động" and "bich  dong" fold alike)."""
    # NFKD: compatibility forms too (full-width letters, ligatures) become plain letters.
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.lower().split())
