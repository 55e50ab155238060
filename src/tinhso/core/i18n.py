"""Vietnamese first, English second: message catalogues and number/date formats.

Messages are Babel/gettext catalogues under ``tinhso/locales/<locale>/LC_MESSAGES/``,
one ``.po`` file per domain (``portal.po``, ``exchange.po``, ``monitoring.po``). They
are the source of truth and are compiled in memory on first use, so no build
artefact is committed. Dates are shown as dd/mm/yyyy whatever the language; numbers in
the Vietnamese format (``1.380,5``) on Vietnamese pages and the English one (``1,380.5``) on
English pages.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo

from babel import Locale as BabelLocale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern
from babel.support import NullTranslations, Translations

Locale: TypeAlias = Literal["vi", "en"]
SUPPORTED_LOCALES: tuple[Locale, ...] = ("vi", "en")
DEFAULT_LOCALE: Locale = "vi"
LOCAL_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

current_locale: ContextVar[Locale] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def parse_locale(value: str | None) -> Locale:
    """The supported locale named by a cookie, query parameter or header; else Vietnamese."""
    if value:
        for part in value.replace(";", ",").split(","):
            tag = part.strip().lower()[:2]
            if tag == "en":
                return "en"
            if tag == "vi":
                return "vi"
    return DEFAULT_LOCALE


@cache
def translations(locale: Locale) -> NullTranslations:
    """All catalogues of a locale merged (one ``.po`` file per domain: portal, exchange, …)."""
    merged: NullTranslations = NullTranslations()
    for po_path in sorted((LOCALES_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = Translations(fp=buffer)
        if isinstance(merged, Translations):
            merged.merge(loaded)
        else:
            merged = loaded
    return merged


def gettext(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


def format_number(value: float | int | Decimal | None, decimals: int | None = None) -> str:
    """The number in the language of the rendering: Vietnamese ``1.380,5`` (``.`` groups
    thousands, ``,`` marks decimals), English ``1,380.5``."""
    if value is None:
        return "–"
    return _written(f"{type(value).__name__}:{value}", value, decimals, current_locale.get())


@lru_cache(maxsize=65_536)
def _written(key: str, value: float | int | Decimal, decimals: int | None, locale: str) -> str:
    """A number written by babel, kept: a page shows the same figures to every reader, and
    babel takes ~20 µs a number (a map page's table is ~500 of them). ``key`` tells apart
    numbers that are equal but may be written apart (``1`` and ``1.0``, ``-0.0`` and ``0.0``,
    ``Decimal("2.5")`` and ``Decimal("2.50")``); at most 65,536 texts (~6 MB)."""
    babel_locale, pattern = _number_format(locale, decimals)
    # Officials expect 87,25 → 87,3 (half up), not banker's rounding.
    with localcontext(rounding=ROUND_HALF_UP):
        written: str = pattern.apply(
            value if decimals is None else Decimal(str(value)), babel_locale
        )
        return written


@cache
def _number_format(locale: str, decimals: int | None) -> tuple[BabelLocale, NumberPattern]:
    """The locale and pattern ``babel.numbers.format_decimal`` reads and parses on every call,
    read once (a page formats hundreds of numbers)."""
    babel_locale = BabelLocale.parse(locale)
    if decimals is None:
        return babel_locale, parse_pattern(babel_locale.decimal_formats[None])
    return babel_locale, parse_pattern("#,##0" + ("." + "0" * decimals if decimals > 0 else ""))


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TIMEZONE)
    return value.strftime("%d/%m/%Y")


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return "–"
    return value.astimezone(LOCAL_TIMEZONE).strftime("%d/%m/%Y %H:%M")
