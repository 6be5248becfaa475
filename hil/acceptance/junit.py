"""JUnit XML of an acceptance run, for CI systems and test-management tools.

One ``<testsuite>`` named after the specification and the board; its
``<properties>`` carry the board's identity, the specification and the
verdict. One ``<testcase>`` per judged metric, named ``<experiment>.<metric>``
(classname: the experiment); a metric that missed its limit carries a
``<failure>`` with its value, limit and the limit's source, and a metric whose
experiment raised an ``<error>`` with the error. Written with
:mod:`xml.etree.ElementTree`, so every value is escaped.
"""
from ..contract.result import format_number as number
from ..results.junit import Case, suite_element, to_text
from .runner import Acceptance, JudgedMetric


def _value(j: JudgedMetric) -> str:
    m = j.metric
    return number(m.value) + (f" {m.unit}" if m.unit else "")


def _limit(j: JudgedMetric) -> str:
    m = j.metric
    return f"{m.comparison} {number(m.limit)}" + (f" {m.unit}" if m.unit and m.limit is not None else "")


def junit_element(acceptance: Acceptance):
    a, i = acceptance, acceptance.identity
    seconds = {r.experiment: r.seconds / max(1, sum(j.spec.experiment == r.experiment for j in a.judged))
               for r in a.runs}
    cases = []
    for j in a.judged:
        failure = error = None
        if j.status == "error":
            error = (j.error.split(":", 1)[0], f"{j.key} not measured: {j.error}",
                     f"error: {j.error}\nlimit: {_limit(j)}\nsource: {j.metric.source}\n")
        elif j.status == "fail":
            failure = ("LimitViolation", f"{j.key} = {_value(j)}, limit {_limit(j)}",
                       f"value: {_value(j)}\nlimit: {_limit(j)}\nsource: {j.metric.source}\n"
                       f"detail: {j.metric.detail}\n")
        cases.append(Case(j.spec.experiment, j.key, seconds.get(j.spec.experiment, 0.0), failure, error,
                          f"value: {_value(j)}; limit: {_limit(j)}; source: {j.metric.source}"))
    suite = suite_element(f"{a.spec.label} {i.serial}", cases, started=a.started, properties=[
        ("vendor", i.vendor), ("model", i.model), ("serial", i.serial), ("firmware", i.firmware),
        ("backend", i.backend), ("family", i.family), ("spec", a.spec.name), ("spec_version", a.spec.version),
        ("spec_file", a.spec.file_name), ("spec_sha256", a.spec.sha256), ("software_version", a.software_version),
        ("date", a.started), ("verdict", a.verdict)])
    # The suite's time is the experiments' own, not the shares given to their metrics.
    suite.set("time", f"{sum(r.seconds for r in a.runs):.3f}")
    return suite


def junit_xml(acceptance: Acceptance) -> str:
    """The JUnit XML document as text (checked to parse back)."""
    return to_text(junit_element(acceptance))


__all__ = ["junit_element", "junit_xml"]
