"""JUnit XML, for CI systems and test-management tools: the acceptance certificate's and the
chip-verification regression's.

A document is one ``<testsuite>`` (or several in a ``<testsuites>``) of :class:`Case` s, each a
``<testcase>`` that may carry a ``<failure>`` (a check that did not hold) or an ``<error>``
(one that could not be made). Written with :mod:`xml.etree.ElementTree`, so every value is
escaped; characters XML 1.0 cannot hold at all are replaced, and the text is parsed back
before it is handed out.
"""
import datetime as _dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

# Characters XML 1.0 cannot hold even escaped (control characters other than tab, LF, CR).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Case:
    """One ``<testcase>``."""

    classname: str
    name: str
    seconds: float = 0.0
    failure: tuple[str, str, str] | None = None
    """(type, message, text) of a check that did not hold."""
    error: tuple[str, str, str] | None = None
    """(type, message, text) of a check that could not be made."""
    output: str = ""
    """The case's ``<system-out>``: what was measured."""


def timestamp(iso: str) -> str:
    """JUnit's timestamp form: ISO 8601 to the second, without a zone (this one is UTC)."""
    return _dt.datetime.fromisoformat(iso).astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def suite_element(name: str, cases: list[Case], *, started: str, properties: list[tuple[str, str]] = ()
                  ) -> ET.Element:
    """A ``<testsuite>`` of ``cases``, started at ``started`` (ISO 8601), with ``<properties>``."""
    suite = ET.Element("testsuite", {
        "name": name, "tests": str(len(cases)),
        "failures": str(sum(c.failure is not None for c in cases)),
        "errors": str(sum(c.error is not None for c in cases)), "skipped": "0",
        "time": f"{sum(c.seconds for c in cases):.3f}", "timestamp": timestamp(started)})
    if properties:
        props = ET.SubElement(suite, "properties")
        for key, value in properties:
            ET.SubElement(props, "property", {"name": key, "value": str(value)})
    for c in cases:
        case = ET.SubElement(suite, "testcase", {"classname": c.classname, "name": c.name,
                                                 "time": f"{c.seconds:.3f}"})
        for tag, what in (("error", c.error), ("failure", c.failure)):
            if what is not None:
                kind, message, text = what
                ET.SubElement(case, tag, {"type": kind, "message": message}).text = text
        if c.output:
            ET.SubElement(case, "system-out").text = c.output
    return suite


def to_text(root: ET.Element) -> str:
    """The document as text (checked to parse back)."""
    for el in root.iter():
        el.attrib.update({k: _NOT_XML.sub("\ufffd", v) for k, v in el.attrib.items()})
        if el.text:
            el.text = _NOT_XML.sub("\ufffd", el.text)
    ET.indent(root)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    ET.fromstring(text.encode("utf-8"))     # never hand a CI system a file it cannot read
    return text


__all__ = ["Case", "suite_element", "timestamp", "to_text"]
