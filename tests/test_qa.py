"""The QA library's pure parts, in-process: the QAI and its grades, the
settings that tune them, mocks, the style check, the report's Markdown and
the guard on TEST_CONNECTION."""

import math
import types

import pytest

from corral_lib.errors import ImproperlyConfigured
from corral_lib.qa import Patcher, qai as qai_module
from corral_lib.qa.database import check_test_connection
from corral_lib.qa.doc import _record_escape
from corral_lib.qa.measure import FileCoverage
from corral_lib.qa.qai import (
    DEFAULT_SCORE_CUALIFICATIONS, QAIInputs, grade, qai, score_table, tau,
)
from corral_lib.qa.report import QAReport, SubjectSummary, render_markdown
from corral_lib.qa.runner import Selection, TestRecord, _choose
from corral_lib.qa.style import StyleError, check_style, python_files
from corral_lib.qa.testcase import describe_failure
from corral_lib.cli.base import BaseCommand
from corral_lib.run.base import Alert, Loader, Step
from corral_lib.run.runner import RunResult


class FakeSettings:
    def __init__(self, **values):
        self.values = values

    def get(self, name, default=None):
        return self.values.get(name, default)


# -- the QAI -------------------------------------------------------------


def test_qai_is_one_for_a_perfect_pipeline():
    assert qai(True, tested=5, processors=5, coverage=1.0, style_errors=0,
               python_files=8) == pytest.approx(1.0)


def test_one_failing_test_sets_the_qai_to_zero():
    assert qai(False, tested=5, processors=5, coverage=1.0, style_errors=0,
               python_files=8) == 0.0


def test_qai_scales_with_tested_processors_and_coverage():
    # 2 * 1 * (3/5) * 0.8 / (1 + e^0) = 0.48
    assert qai(True, 3, 5, 0.8, 0, 4) == pytest.approx(0.48)


@pytest.mark.parametrize("errors, files, tau_value", [
    (13, 1, 13), (26, 2, 13), (5, 10, 13), (40, 3, 2.5),
])
def test_style_errors_lower_the_qai_as_the_formula_says(errors, files,
                                                        tau_value):
    expected = 2 * 1.0 * 1.0 * 0.9 / (1 + math.exp(errors / (tau_value * files)))
    got = qai(True, 4, 4, 0.9, errors, files, tau_value)
    assert got == pytest.approx(expected)
    assert got < qai(True, 4, 4, 0.9, 0, files, tau_value)


def test_more_style_errors_give_a_lower_qai_and_never_overflow():
    values = [qai(True, 2, 2, 1.0, e, 3) for e in (0, 1, 10, 100, 10**6)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(0.0, abs=1e-12)


def test_a_larger_tau_penalises_style_errors_less():
    assert qai(True, 1, 1, 1.0, 20, 2, tau=50) > qai(True, 1, 1, 1.0, 20, 2)


def test_a_pipeline_without_processors_scores_zero():
    assert qai(True, 0, 0, 1.0, 0, 3) == 0.0


def test_qai_inputs_expose_each_factor():
    inputs = QAIInputs(True, 3, 4, 0.5, 13, 1, 13)
    assert inputs.tp == 1.0
    assert inputs.tested_ratio == 0.75
    assert inputs.style_factor == pytest.approx(1 + math.e)
    assert inputs.qai == pytest.approx(2 * 0.75 * 0.5 / (1 + math.e))


# -- grades ----------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (0.0, "F"), (0.5999, "F"), (0.60, "D-"), (0.6299, "D-"), (0.63, "D"),
    (0.67, "D+"), (0.70, "C-"), (0.73, "C"), (0.77, "C+"), (0.80, "B-"),
    (0.8299, "B-"), (0.83, "B"), (0.87, "B+"), (0.90, "A-"), (0.93, "A"),
    (0.9499, "A"), (0.95, "A+"), (1.0, "A+"),
])
def test_the_manuals_grade_table(value, expected):
    assert grade(value) == expected


def test_a_custom_grade_table_replaces_the_default():
    table = {0: "FAIL", 60: "PASS"}
    assert grade(0.59, table) == "FAIL"
    assert grade(0.60, table) == "PASS"
    assert grade(0.99, table) == "PASS"


def test_a_qai_below_every_custom_limit_has_no_grade():
    assert grade(0.3, {50: "ok"}) is None


def test_score_table_defaults_to_the_manuals():
    assert score_table(FakeSettings()) == DEFAULT_SCORE_CUALIFICATIONS


@pytest.mark.parametrize("name", ["SCORE_CUALIFICATIONS",
                                  "SCORE_CUALIFITACIONS"])
def test_score_table_accepts_both_spellings_of_the_manual(name):
    table = {0: "FAIL", 60: "PASS"}
    assert score_table(FakeSettings(**{name: table})) == table


def test_the_correct_spelling_wins_when_both_are_set():
    settings = FakeSettings(SCORE_CUALIFICATIONS={0: "right"},
                            SCORE_CUALIFITACIONS={0: "wrong"})
    assert score_table(settings) == {0: "right"}


@pytest.mark.parametrize("bad", [{}, [0, 60], {"sixty": "PASS"},
                                 {0: 1}])
def test_a_malformed_score_table_is_one_clear_error(bad):
    with pytest.raises(ImproperlyConfigured, match="SCORE_CUALIFITACIONS"):
        score_table(FakeSettings(SCORE_CUALIFITACIONS=bad))


def test_tau_defaults_to_13_and_can_be_set():
    assert tau(FakeSettings()) == 13.0
    assert tau(FakeSettings(QAI_TAU=None)) == 13.0
    assert tau(FakeSettings(QAI_TAU=4)) == 4.0


@pytest.mark.parametrize("bad", [0, -2, "13", True])
def test_a_bad_tau_is_one_clear_error(bad):
    with pytest.raises(ImproperlyConfigured, match="QAI_TAU"):
        tau(FakeSettings(QAI_TAU=bad))


# -- mocks ------------------------------------------------------------------


def test_patcher_undoes_every_kind_of_patch():
    target = types.SimpleNamespace(a=1, b=2, c=3)
    mapping = {"keep": 1}
    patcher = Patcher()
    patcher.object(target, "a", 10)
    patcher.multiple(target, b=20, c=30)
    patcher.dict(mapping, {"added": 2}, clear=True)
    patcher("corral_lib.qa.qai.DEFAULT_TAU", 99)
    assert (target.a, target.b, target.c) == (10, 20, 30)
    assert mapping == {"added": 2}
    assert qai_module.DEFAULT_TAU == 99
    assert patcher.active == 4

    patcher.stop_all()
    assert (target.a, target.b, target.c) == (1, 2, 3)
    assert mapping == {"keep": 1}
    assert qai_module.DEFAULT_TAU == 13
    assert patcher.active == 0


def test_patcher_returns_the_mock_it_installs():
    target = types.SimpleNamespace(fn=lambda: "real")
    patcher = Patcher()
    fake = patcher.object(target, "fn", return_value="fake")
    try:
        assert target.fn() == "fake"
        fake.assert_called_once_with()
    finally:
        patcher.stop_all()
    assert target.fn() == "real"


# -- subject failures ----------------------------------------------------------


def test_describe_failure_of_a_processor_run():
    assert describe_failure(RunResult("p.Step", "step")) is None
    broken = RunResult("p.Step", "step", error="ValueError: bad flux",
                       traceback="Traceback ...\nValueError: bad flux\n")
    text = describe_failure(broken)
    assert text.startswith("ValueError: bad flux")
    assert "Traceback ..." in text
    rows = RunResult("p.Step", "step", failed=2)
    assert describe_failure(rows) == "2 row(s) failed"
    rows.failures = ["1: ValueError: bad flux", "7: KeyError: 'x'"]
    assert describe_failure(rows, ["Traceback (1)\n", "Traceback (7)\n"]) == (
        "2 row(s) failed:\n  1: ValueError: bad flux\n  7: KeyError: 'x'\n"
        "Traceback (1)")


# -- style ---------------------------------------------------------------------


def test_style_errors_are_found_with_their_place(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "migrations").mkdir()
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "clean.py").write_text('"""Clean."""\n\nVALUE = 1\n')
    (package / "sub" / "messy.py").write_text("import os\nx=1\n")
    (package / "migrations" / "env.py").write_text("import sys\n")

    files = python_files(package)
    names = [str(f.relative_to(tmp_path)) for f in files]
    assert names == ["pkg/__init__.py", "pkg/clean.py", "pkg/sub/__init__.py",
                     "pkg/sub/messy.py"]

    errors = check_style(files, tmp_path)
    assert [(e.path, e.line, e.code) for e in errors] == [
        ("pkg/sub/messy.py", 1, "F401"),
        ("pkg/sub/messy.py", 2, "E225"),
    ]
    assert str(errors[0]).startswith("pkg/sub/messy.py:1:1: F401 ")


def test_the_pipelines_flake8_configuration_is_honoured(tmp_path):
    (tmp_path / "long.py").write_text("X = '" + "a" * 90 + "'\n")
    assert [e.code for e in check_style([tmp_path / "long.py"], tmp_path)] == [
        "E501"]
    (tmp_path / "setup.cfg").write_text("[flake8]\nmax-line-length = 120\n")
    assert check_style([tmp_path / "long.py"], tmp_path) == []


# -- the report ------------------------------------------------------------------


def _report(successful=True, style_errors=(), explain=True):
    records = [
        TestRecord("p.tests.LoadTest", "Loader", "p.load.Loader", "loader",
                   "ok", "Loads."),
        TestRecord("p.tests.StepTest", "Step", "p.steps.Step", "step",
                   "ok" if successful else "FAIL", "Steps.",
                   "" if successful else "AssertionError: 1 != 2"),
    ]
    report = QAReport(
        pipeline="p", created_at=__import__("datetime").datetime(2024, 1, 2),
        records=records, test_output="Ran 2 tests\n", tests_run=2,
        successful=successful,
        subjects=[SubjectSummary("p.load.Loader", "loader", "Loader", 1),
                  SubjectSummary("p.steps.Step", "step", "Step", 1),
                  SubjectSummary("p.alerts.Alert", "alert", "Alert", 0)],
        files=[FileCoverage("p/a.py", 30, 3, "4-6"),
               FileCoverage("p/b.py", 10, 1, "9")],
        style_errors=list(style_errors), tau=13.0,
        score_table=dict(DEFAULT_SCORE_CUALIFICATIONS),
    )
    return report, render_markdown(report, explain_qai=explain)


def test_report_summary_holds_the_measures_and_the_qai():
    report, text = _report()
    assert report.inputs.tested == 2 and report.inputs.processors == 3
    assert report.inputs.coverage == pytest.approx(36 / 40)
    expected = 2 * (2 / 3) * 0.9 / 2
    assert report.qai == pytest.approx(expected)
    assert f"| QAI | {expected * 100:.2f}% |" in text
    assert f"| Grade | {grade(expected)} |" in text
    assert "| Processors tested (T / PN) | 2 of 3 |" in text
    assert "| `p.alerts.Alert` | **untested** |" in text
    assert "| **Total** | 40 | 4 | **90.00%** |  |" in text
    assert "## About the QAI" in text


def test_report_of_a_failing_test_shows_it_and_scores_zero():
    report, text = _report(successful=False)
    assert report.qai == 0.0 and report.grade == "F"
    assert "### FAIL: `p.tests.StepTest`" in text
    assert "AssertionError: 1 != 2" in text


def test_report_lists_style_errors_per_file_and_can_skip_the_explanation():
    errors = [StyleError("p/a.py", 1, 1, "F401", "'os' imported but unused"),
              StyleError("p/a.py", 3, 2, "E225", "missing whitespace"),
              StyleError("p/b.py", 7, 80, "E501", "line too long")]
    report, text = _report(style_errors=errors, explain=False)
    assert report.inputs.style_errors == 3
    assert "| `p/a.py` | 2 |" in text and "| `p/b.py` | 1 |" in text
    assert "p/b.py:7:80: E501 line too long" in text
    assert "About the QAI" not in text


# -- the test database guard and the diagram ----------------------------------------


def test_test_connection_may_not_be_the_pipelines_database(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="TEST_CONNECTION is the"):
        check_test_connection("sqlite:///data.db", "sqlite:///data.db",
                              tmp_path)
    with pytest.raises(ImproperlyConfigured, match="TEST_CONNECTION is the"):
        check_test_connection(f"sqlite:///{tmp_path / 'data.db'}",
                              "sqlite:///data.db", tmp_path)
    with pytest.raises(ImproperlyConfigured):
        check_test_connection("postgresql://u@h/db", "postgresql://u@h/db",
                              None)
    check_test_connection("sqlite:///test.db", "sqlite:///data.db", tmp_path)
    check_test_connection("sqlite:///:memory:", "sqlite:///:memory:", None)
    check_test_connection("postgresql://u@h/test", "postgresql://u@h/db",
                          None)


def test_record_labels_escape_graphviz_specials():
    assert _record_escape('a|b{c}<d>"e\\') == 'a\\|b\\{c\\}\\<d\\>\\"e\\\\'


# -- choosing subjects -------------------------------------------------------------


class Load(Loader):
    pass


class Clean(Step):
    groups = ["prep"]


class Fit(Step):
    groups = ["science", "prep"]


class Mail(Alert):
    groups = ["outside"]


class Summary(BaseCommand):
    options = {"title": "summary"}


SUBJECTS = [Load, Clean, Fit, Mail, Summary]


@pytest.mark.parametrize("flags, chosen, whole", [
    ({}, [Load, Clean, Fit, Mail, Summary],
     {"loader", "step", "alert", "command"}),
    ({"exclude_loader": True}, [Clean, Fit, Mail, Summary],
     {"step", "alert", "command"}),
    ({"exclude_steps": True, "exclude_alerts": True,
      "exclude_commands": True}, [Load], {"loader"}),
    ({"steps": ["Fit"]}, [Load, Fit, Mail, Summary],
     {"loader", "alert", "command"}),
    ({"steps": [f"{__name__}.Clean"]}, [Load, Clean, Mail, Summary],
     {"loader", "alert", "command"}),
    ({"step_groups": ["prep"], "exclude_loader": True},
     [Clean, Fit, Mail, Summary], {"alert", "command"}),
    ({"step_groups": ["science"], "alert_groups": ["outside"],
      "exclude_loader": True, "exclude_commands": True}, [Fit, Mail], set()),
    ({"alerts": ["Mail"], "exclude_steps": True}, [Load, Mail, Summary],
     {"loader", "command"}),
    ({"commands": ["summary"], "exclude_loader": True,
      "exclude_steps": True, "exclude_alerts": True}, [Summary], set()),
    ({"commands": ["Summary"], "exclude_loader": True,
      "exclude_steps": True, "exclude_alerts": True}, [Summary], set()),
])
def test_selection_keeps_each_kind_apart(flags, chosen, whole):
    assert _choose(SUBJECTS, Selection(**flags)) == (chosen, whole)


@pytest.mark.parametrize("flags, message", [
    ({"steps": ["Nope"]}, "no step named 'Nope'; the steps are: Clean, Fit"),
    ({"alert_groups": ["x"]}, "no alert group 'x'; the groups are: outside"),
    ({"commands": ["nope"]}, "no command named 'nope'; the pipeline's "
                             "commands are: summary (Summary)"),
])
def test_selection_of_unknown_names_lists_the_valid_ones(flags, message):
    from corral_lib.errors import CorralError

    with pytest.raises(CorralError) as info:
        _choose(SUBJECTS, Selection(**flags))
    assert str(info.value) == message
    assert info.value.returncode == 2
