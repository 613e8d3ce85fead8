"""The Korean catalogue is complete: every message has a translation, none is fuzzy, the .mo is current.

A small .po reader (no extra dependency): entries are separated by blank lines; ``#,`` lines
carry flags, ``#~`` lines are obsolete entries (ignored by gettext), and a keyword's string
may continue on the following lines that start with a quote.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
LOCALE = ROOT / "locale"
# The project catalogue plus one per app (``<app>/locale``), which Django finds on its own.
PO_FILES = sorted([*LOCALE.glob("*/LC_MESSAGES/*.po"), *ROOT.glob("*/locale/*/LC_MESSAGES/*.po")])
KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")\s*$')
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{\{\s*(\w+)\s*\}\}|\{(\w+)\}")


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def msgid(self) -> str:
        return self.fields.get("msgid", "")

    @property
    def translations(self) -> list[str]:
        return [value for key, value in sorted(self.fields.items()) if key.startswith("msgstr")]

    def describe(self) -> str:
        context = self.fields.get("msgctxt")
        return f"line {self.line}: {self.msgid!r}" + (f" (context {context!r})" if context else "")


def parse_po(text: str) -> list[Entry]:
    """Every live entry of a .po file, the header included (its msgid is empty)."""
    entries: list[Entry] = []
    current: Entry | None = None
    last_key = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            current, last_key = None, ""
            continue
        if line.startswith("#~"):
            continue
        if current is None:
            current = Entry(number)
            entries.append(current)
        if line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
        elif line.startswith("#"):
            continue
        elif match := KEYWORD.match(line):
            last_key = match.group(1)
            current.fields[last_key] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and last_key:
            current.fields[last_key] += ast.literal_eval(line)
        else:
            raise ValueError(f"line {number}: cannot read {raw!r}")
    return [entry for entry in entries if "msgid" in entry.fields]


def _placeholders(text: str) -> set[str]:
    return {next((g for g in match.groups() if g), match.group(0)) for match in PLACEHOLDER.finditer(text)}


def test_there_is_a_korean_catalogue() -> None:
    assert LOCALE / "ko" / "LC_MESSAGES" / "django.po" in PO_FILES


def test_the_reader_sees_empty_fuzzy_and_continued_entries() -> None:
    sample = '\n'.join([
        'msgid ""', 'msgstr ""', '"Language: ko\\n"', '',
        '#: a.py:1', '#, fuzzy, python-format', 'msgid "Hello %(name)s"', 'msgstr "안녕 %(name)s"', '',
        'msgid ""', '"Long "', '"text"', 'msgstr ""', '',
        'msgid "One"', 'msgid_plural "Many"', 'msgstr[0] "여럿"', '',
        '#~ msgid "Old"', '#~ msgstr ""',
    ])
    header, fuzzy, empty, plural = parse_po(sample)
    assert header.msgid == "" and "Language: ko" in header.translations[0]
    assert "fuzzy" in fuzzy.flags and fuzzy.translations == ["안녕 %(name)s"]
    assert empty.msgid == "Long text" and empty.translations == [""]
    assert plural.fields["msgid_plural"] == "Many" and plural.translations == ["여럿"]


@pytest.mark.parametrize("po_file", PO_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_message_is_translated_and_none_is_fuzzy(po_file: Path) -> None:
    entries = parse_po(po_file.read_text(encoding="utf-8"))
    messages = [entry for entry in entries if entry.msgid]
    assert messages, f"{po_file} has no messages"
    untranslated = [entry.describe() for entry in messages if not all(entry.translations) or not entry.translations]
    fuzzy = [entry.describe() for entry in entries if "fuzzy" in entry.flags]
    assert not untranslated, "untranslated:\n" + "\n".join(untranslated)
    assert not fuzzy, "fuzzy (check the translation, then remove the flag):\n" + "\n".join(fuzzy)


@pytest.mark.parametrize("po_file", PO_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_translations_keep_the_placeholders(po_file: Path) -> None:
    wrong = []
    for entry in parse_po(po_file.read_text(encoding="utf-8")):
        if not entry.msgid:
            continue
        wanted = _placeholders(entry.msgid) | _placeholders(entry.fields.get("msgid_plural", ""))
        for translation in entry.translations:
            if _placeholders(translation) != wanted:
                wrong.append(f"{entry.describe()}: {translation!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize("po_file", PO_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_compiled_catalogue_is_not_older_than_the_po_file(po_file: Path) -> None:
    mo_file = po_file.with_suffix(".mo")
    assert mo_file.exists(), f"run: python3 run.py manage compilemessages --ignore=.venv ({mo_file} is missing)"
    # Git does not keep modification times, so compare contents: the .mo holds every translation.
    mo_bytes = mo_file.read_bytes()
    missing = [entry.describe() for entry in parse_po(po_file.read_text(encoding="utf-8"))
               if entry.msgid and entry.translations[0] and entry.translations[0].encode() not in mo_bytes]
    assert not missing, "the .mo is out of date; run compilemessages. Missing:\n" + "\n".join(missing[:20])
