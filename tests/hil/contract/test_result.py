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


def test_a_symmetric_interval_sets_the_ends_and_json_holds_them():
    import pytest
    m = Metric("gain", 2.0, interval=0.5, interval_method="normal")
    assert (m.low, m.high, m.has_interval) == (1.5, 2.5, True)
    d = m.to_json()
    assert (d["low"], d["high"], d["interval_method"], d["no_interval"]) == (1.5, 2.5, "normal", "")
    assert Metric("x", 1.0, low=0.5, high=math.inf).to_json()["high"] == "inf"
    with pytest.raises(ValueError, match="not an interval"):
        Metric("x", 1.0, low=2.0, high=1.0)
    with pytest.raises(ValueError, match="does not start with"):
        Metric("x", 1.0, no_interval="because")
    with pytest.raises(ValueError, match="and a reason"):
        Metric("x", 1.0, interval=0.1, no_interval="exact: ideal")


def test_intervals_are_attached_by_name_and_exact_fills_the_rest():
    import pytest
    from hil.contract.result import Interval, with_intervals
    ms = (Metric("a", 1.0, interval=0.1), Metric("b", 2.0), Metric("c", 3.0), Metric("d", 4.0))
    out = with_intervals(ms, {"b": Interval(1.0, 2.5, "bootstrap"), "c": "undefined: too few"},
                         exact="exact: ideal")
    assert [(m.low, m.high, m.interval_method, m.no_interval) for m in out] == [
        (0.9, 1.1, "", ""), (1.0, 2.5, "bootstrap", ""), (None, None, "", "undefined: too few"),
        (None, None, "", "exact: ideal")]
    with pytest.raises(ValueError, match="not metrics"):
        with_intervals(ms, {"e": "exact: x"})


def test_estimates_as_tables_show_them():
    from hil.contract.result import format_estimate, interval_note
    cases = [(Metric("a", 2.0, interval=0.25), "2 ± 0.25"),
             (Metric("b", 0.3, low=0.0, high=0.7548), "0.3 [0, 0.7548]"),
             (Metric("c", 0.0, no_interval="exact: ideal chip"), "0 (exact)"),
             (Metric("d", 1.5, no_interval="undefined: 2 repeats"), "1.5 (no interval)"),
             (Metric("e", 7.0), "7"),
             (Metric("f", 2.0, low=1.5, high=2.5), "2 ± 0.5")]
    assert [format_estimate(m) for m, _ in cases] == [text for _, text in cases]
    assert format_estimate(None, "—") == "—"
    assert interval_note(Metric("b", 0.3, low=0.0, high=1.0, interval_method="chi-square")) == \
        "95 % interval: chi-square"
    assert interval_note(cases[2][0]) == "exact: ideal chip" and interval_note(cases[4][0]) == ""
