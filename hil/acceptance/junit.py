"""JUnit XML of an acceptance run, for CI systems and test-management tools.

One ``<testsuite>`` named after the specification and the board; its
``<properties>`` carry the board's identity, the specification and the
verdict. One ``<testcase>`` per judged metric, named ``<experiment>.<metric>``
(classname: the experiment); a metric that missed its limit carries a
``<failure>`` with its value, limit and the limit's source, and a metric whose
experiment raised an ``<error>`` with the error. Written with
:mod:`xml.etree.ElementTree`, so every value is escaped.
"""
import datetime as _dt
import re
import xml.etree.ElementTree as ET

from ..contract.result import format_number as number
from .runner import Acceptance, JudgedMetric


# Characters XML 1.0 cannot hold even escaped (control characters other than tab, LF, CR).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _timestamp(iso: str) -> str:
    """JUnit's timestamp form: ISO 8601 to the second, without a zone (this one is UTC)."""
    return _dt.datetime.fromisoformat(iso).astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _value(j: JudgedMetric) -> str:
    m = j.metric
    return number(m.value) + (f" {m.unit}" if m.unit else "")


def _limit(j: JudgedMetric) -> str:
    m = j.metric
    return f"{m.comparison} {number(m.limit)}" + (f" {m.unit}" if m.unit and m.limit is not None else "")


def junit_element(acceptance: Acceptance) -> ET.Element:
    a, i = acceptance, acceptance.identity
    seconds = {r.experiment: r.seconds / max(1, sum(j.spec.experiment == r.experiment for j in a.judged))
               for r in a.runs}
    suite = ET.Element("testsuite", {
        "name": f"{a.spec.label} {i.serial}",
        "tests": str(len(a.judged)),
        "failures": str(sum(j.status == "fail" for j in a.judged)),
        "errors": str(sum(j.status == "error" for j in a.judged)),
        "skipped": "0",
        "time": f"{sum(r.seconds for r in a.runs):.3f}",
        "timestamp": _timestamp(a.started),
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("vendor", i.vendor), ("model", i.model), ("serial", i.serial),
                        ("firmware", i.firmware), ("backend", i.backend), ("family", i.family),
                        ("spec", a.spec.name), ("spec_version", a.spec.version), ("spec_file", a.spec.file_name),
                        ("spec_sha256", a.spec.sha256), ("software_version", a.software_version),
                        ("date", a.started), ("verdict", a.verdict)):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for j in a.judged:
        case = ET.SubElement(suite, "testcase", {"classname": j.spec.experiment, "name": j.key,
                                                 "time": f"{seconds.get(j.spec.experiment, 0.0):.3f}"})
        if j.status == "error":
            err = ET.SubElement(case, "error", {"type": j.error.split(":", 1)[0],
                                                "message": f"{j.key} not measured: {j.error}"})
            err.text = f"error: {j.error}\nlimit: {_limit(j)}\nsource: {j.metric.source}\n"
        elif j.status == "fail":
            failure = ET.SubElement(case, "failure", {
                "type": "LimitViolation",
                "message": f"{j.key} = {_value(j)}, limit {_limit(j)}"})
            failure.text = (f"value: {_value(j)}\nlimit: {_limit(j)}\nsource: {j.metric.source}\n"
                            f"detail: {j.metric.detail}\n")
        out = ET.SubElement(case, "system-out")
        out.text = f"value: {_value(j)}; limit: {_limit(j)}; source: {j.metric.source}"
    return suite


def junit_xml(acceptance: Acceptance) -> str:
    """The JUnit XML document as text (checked to parse back)."""
    root = junit_element(acceptance)
    for el in root.iter():
        el.attrib.update({k: _clean(v) for k, v in el.attrib.items()})
        if el.text:
            el.text = _clean(el.text)
    ET.indent(root)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    ET.fromstring(text.encode("utf-8"))     # never hand a CI system a file it cannot read
    return text


__all__ = ["junit_element", "junit_xml"]
