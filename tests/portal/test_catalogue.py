"""Every string of the portal (shell and every domain's pages) has a Vietnamese translation.

Messages are extracted with Babel exactly as ``pybabel extract -F babel.cfg`` does, from
``src/tinhso/portal`` (Python, and templates including ``templates/<domain>/``), and looked
up in the merged Vietnamese catalogue (every ``.po`` file of ``locales/vi``).
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tinhso.core.i18n import LOCALES_DIR, current_locale, gettext

ROOT = Path(__file__).resolve().parents[2]
PORTAL_DIR = ROOT / "src" / "tinhso" / "portal"
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def extracted_messages() -> dict[str, str]:
    """msgid → where it was found."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, str(ROOT / "babel.cfg"))  # type: ignore[no-untyped-call]
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PORTAL_DIR), method_map, options_map
    ):
        msgid = message if isinstance(message, str) else str(message[0])
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def vietnamese_catalogue() -> dict[str, str]:
    """msgid → Vietnamese translation (singular form for plurals); untranslated or fuzzy → ""."""
    merged: dict[str, str] = {}
    for po_path in sorted((LOCALES_DIR / "vi" / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale="vi")
        for message in catalog:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else str(message.id[0])
            forms = message.string
            string = forms if isinstance(forms, str) else (str(forms[0]) if forms else "")
            if string and not message.fuzzy:
                merged[msgid] = string
            else:
                merged.setdefault(msgid, "")
    return merged


def test_portal_strings_are_extracted() -> None:
    messages = extracted_messages()
    assert "Log in" in messages  # from a template
    assert "Department or agency" in messages  # from Python
    assert "%(num)d organisation matches the filter." in messages  # a plural


def test_every_portal_string_has_a_vietnamese_translation() -> None:
    catalogue = vietnamese_catalogue()
    missing = {
        msgid: where for msgid, where in extracted_messages().items() if not catalogue.get(msgid)
    }
    assert missing == {}, (
        "UI strings without a Vietnamese translation (add them to "
        "src/tinhso/locales/vi/LC_MESSAGES/<domain>.po): "
        + "; ".join(f"{msgid!r} ({where})" for msgid, where in sorted(missing.items()))
    )


def test_translations_keep_their_placeholders() -> None:
    catalogue = vietnamese_catalogue()
    wrong = [
        msgid
        for msgid, string in catalogue.items()
        if string and set(_PLACEHOLDER.findall(msgid)) != set(_PLACEHOLDER.findall(string))
    ]
    assert wrong == []


def test_merged_runtime_catalogue_translates() -> None:
    token = current_locale.set("vi")
    try:
        assert gettext("Home") == "Trang chủ"
        assert gettext("Data exchange") == "Trao đổi dữ liệu"
        assert gettext("Digital-transformation monitoring") == "Giám sát chuyển đổi số"
    finally:
        current_locale.reset(token)
