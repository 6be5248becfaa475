"""The project cites only what it has: no tracked file names the internal design page,
and every document a specification's ``source`` cites exists, down to its section and row.

A certificate copies a limit's ``source`` text, so a broken citation there leaves a
reader of the certificate without the origin of the limit.
"""
import dataclasses
import re
import subprocess
import tomllib

import pytest

from hil.bss2.models import MacSpec
from tests.support import REPO

INTERNAL_PAGE = "DESIGN" + ".md"
"""The internal design page, which is not part of the repository (spelled in two
parts so that this file does not mention it itself)."""

DOC_CITATION = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w.-]+\.(?:md|rst|txt))(?:#([\w-]+))?")
"""A cited document: a repository path ending in .md, .rst or .txt, optionally with a
#section anchor."""

ROWS_AFTER_ANCHOR = re.compile(r"^,\s*rows?\s+(.+?)\s*(?:[:;)]|$)")
"""After ``path#anchor``: ``, row NAME`` or ``, rows NAME and NAME``, up to ':', ';' or ')'."""

SPEC_FIELD = re.compile(r"\bhil\.bss2\.MacSpec\.(\w+)")


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"not a git checkout ({REPO}): {e}")
    return [p for p in out.decode().split("\0") if p]


def _spec_sources() -> list[tuple[str, str, str]]:
    """(spec file, key of the metric, source text) of every ``source`` in specs/*.toml."""
    found = []

    def walk(table, path, spec):
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value, path + [key], spec)
            elif key == "source":
                found.append((spec, ".".join(path), value))

    specs = sorted((REPO / "specs").glob("*.toml"))
    assert specs, f"no specification in {REPO / 'specs'}"
    for path in specs:
        walk(tomllib.loads(path.read_text("utf-8")), [], path.name)
    return found


def _slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _sections(text: str) -> dict[str, str]:
    """Anchor -> the section's text (up to the next heading of the same or a higher level)."""
    heads = [(m.start(), len(m.group(1)), _slug(m.group(2)))
             for m in re.finditer(r"^(#{1,6})\s+(.+?)\s*$", text, re.MULTILINE)]
    sections = {}
    for i, (start, level, slug) in enumerate(heads):
        end = next((s for s, lv, _ in heads[i + 1:] if lv <= level), len(text))
        sections[slug] = text[start:end]
    return sections


def _row_names(section: str) -> set[str]:
    """The first cells of the section's table rows, without backticks."""
    cells = {m.group(1).replace("`", "").strip()
             for m in re.finditer(r"^\|([^|\n]+)\|", section, re.MULTILINE)}
    return {c for c in cells if c.strip("-: ")}


def _has_row(names: set[str], name: str) -> bool:
    """A row is named by its first cell, or by the cell's text before a parenthesis."""
    return any(cell == name or cell.startswith(name + " (") for cell in names)


def test_no_tracked_file_names_the_internal_design_page():
    needle = INTERNAL_PAGE.encode()
    offenders = [p for p in _tracked_files()
                 if (REPO / p).is_file() and needle in (REPO / p).read_bytes()]
    assert not offenders, (f"{INTERNAL_PAGE} is not in the repository, yet these tracked files name it: "
                           f"{offenders}; cite docs/chip_model.md#numbers-and-their-sources instead")


SOURCES = _spec_sources()


@pytest.mark.parametrize("spec,key,source", SOURCES, ids=[f"{s}:{k}" for s, k, _ in SOURCES])
def test_spec_source_cites_existing_docs(spec, key, source):
    for m in DOC_CITATION.finditer(source):
        doc, anchor = m.group(1), m.group(2)
        path = REPO / doc
        assert path.is_file(), f"{spec} {key}: source cites {doc}, which is not in the repository ({source!r})"
        if anchor is None:
            continue
        sections = _sections(path.read_text("utf-8"))
        assert anchor in sections, (f"{spec} {key}: {doc} has no section #{anchor}; "
                                    f"its sections: {sorted(sections)}")
        rows = ROWS_AFTER_ANCHOR.match(source[m.end():])
        if rows:
            names = _row_names(sections[anchor])
            for name in re.split(r"\s+and\s+", rows.group(1)):
                assert _has_row(names, name), (f"{spec} {key}: {doc}#{anchor} has no row {name!r}; "
                                       f"its rows: {sorted(names)}")


@pytest.mark.parametrize("spec,key,source", SOURCES, ids=[f"{s}:{k}" for s, k, _ in SOURCES])
def test_spec_source_names_real_spec_fields(spec, key, source):
    fields = {f.name for f in dataclasses.fields(MacSpec)}
    for name in SPEC_FIELD.findall(source):
        assert name in fields, f"{spec} {key}: source names hil.bss2.MacSpec.{name}, not a field of MacSpec"


def test_every_macspec_field_has_a_row():
    """Every field of MacSpec has its row in the numbers table, with a source or a reason."""
    section = _sections((REPO / "docs" / "chip_model.md").read_text("utf-8"))["numbers-and-their-sources"]
    names = _row_names(section)
    missing = [f.name for f in dataclasses.fields(MacSpec)
               if f.name != "model" and not any(f"MacSpec.{f.name}" in cell for cell in names)]
    assert not missing, f"docs/chip_model.md#numbers-and-their-sources has no row for MacSpec.{missing}"
