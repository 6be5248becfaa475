"""Metrics and verdicts."""
import math

from hil.contract.result import Metric, Verdict, format_number


def test_verdict_compares_equal_to_its_text():
    passed = Verdict((Metric("a", 1.0, 2.0), Metric("reported", 9.0)))
    failed = Verdict((Metric("a", 3.0, 2.0), Metric("b", -1.0, 0.5, "abs<=")))
    assert passed == "PASS" and passed.passed and str(passed) == "PASS"
    assert failed == "FAIL (a, b)" and failed != "PASS" and not failed.passed
    assert passed == Verdict((Metric("a", 1.0, 2.0), Metric("reported", 9.0))) and passed != failed
    assert len({passed, "PASS"}) == 1            # equal objects hash alike


def test_nan_never_passes_and_unjudged_metrics_compare_nothing():
    assert Metric("a", math.nan, 1.0).passed is False
    reported = Metric("r", 7.0)
    assert reported.passed is None and reported.to_json()["comparison"] is None
    assert Metric("a", 1.0, 2.0, ">=").to_json()["comparison"] == ">="


def test_numbers_as_tables_show_them():
    assert [format_number(x) for x in (None, 3.0, 0.0001234567, 1e12, math.inf)] == ["-", "3", "0.0001235",
                                                                                      "1e+12", "inf"]
    assert format_number(None, "—") == "—"
