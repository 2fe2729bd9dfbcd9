"""`corral test`, `profile`, `qareport`, `create-doc` and
`create-models-diagram` on qapl (tests/data/qapl), a small pipeline with
passing and failing tests of its loader, steps, alert and command."""

import math
import os
import pstats
import re
import shutil

import pytest

from conftest import DATA, make_pipeline, run_corral
from corral_lib.qa.qai import grade

QAPL = DATA / "qapl"

ALL_PASSING = [
    "LoaderTest", "LoaderSkipsKnownStarsTest", "MagnitudeTest",
    "MagnitudeBadFluxTest", "IsolationFirstTest", "IsolationSecondTest",
    "MockPatchTest", "MockUndoneTest", "FlareFinderTest", "FlareAlertTest",
    "SummaryTest", "SummaryBrighterThanTest", "SummaryEmptyTest",
    "SummaryNoMagnitudeTest",
]
LOADER = ALL_PASSING[:2]
MAGNITUDE = ALL_PASSING[2:8]
FLARES = ["FlareFinderTest"]
ALERT = ["FlareAlertTest"]
COMMAND = ALL_PASSING[10:]


@pytest.fixture(scope="module")
def qapl_template(tmp_path_factory):
    """qapl scaffolded once per module; tests work on copies."""
    project = make_pipeline(tmp_path_factory.mktemp("qapl"), "qapl",
                            example=None)
    for path in QAPL.iterdir():
        if path.is_file() and path.name != "README":
            shutil.copy(path, project / "qapl" / path.name)
    return project


@pytest.fixture
def qapl(qapl_template, tmp_path):
    return shutil.copytree(qapl_template, tmp_path / "qapl-project")


def add_failing_tests(project):
    tests = project / "qapl" / "tests.py"
    tests.write_text(tests.read_text()
                     + "\nfrom .failing_tests import *  # noqa: F401,F403\n")


def add_setting(project, text):
    settings = project / "qapl" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + text + "\n")


def names_run(result):
    """The class names of the tests a -vv run reports, in order."""
    # A test with a docstring has it on the next line; one without has
    # its outcome on the same line.
    return re.findall(r"^qapl\.\w+\.(\w+) \[\w+ \w+\](?:$| \.\.\. )",
                      result.stderr, re.MULTILINE)


# -- corral test ---------------------------------------------------------


def test_every_passing_test_runs_and_the_exit_status_is_0(qapl):
    result = run_corral("test", "-vv", cwd=qapl)
    assert result.returncode == 0, result
    assert names_run(result) == ALL_PASSING
    assert f"Ran {len(ALL_PASSING)} tests" in result.stderr
    assert result.stderr.rstrip().endswith("OK")
    # Each test's first docstring line comes with it at -vv.
    assert "The loader stores every star of the catalogue. ... ok" in (
        result.stderr)
    # Neither the runner's progress nor its warnings about the rows a
    # subject failed on (MagnitudeBadFluxTest's) are logged during tests.
    assert "executing" not in result.stderr
    assert "WARNING" not in result.stderr


def test_failing_tests_exit_1_and_show_the_stream_that_failed(qapl):
    add_failing_tests(qapl)
    result = run_corral("test", cwd=qapl)
    assert result.returncode == 1, result
    err = result.stderr
    assert "FAILED (failures=4)" in err
    # The loader: the count found, and the rows behind it.
    assert "FAIL: qapl.failing_tests.LoaderCountFailsTest [loader Loader]" in err
    assert "AssertionError: 3 != 99: expected 99 Star row(s), found 3." in err
    assert "The stream holds 3 Star row(s):\n  <Star Vega flux=100000000.0" in (
        err)
    assert 'failing_tests.py", line 17, in validate' in err
    # The step: its own error, with the traceback into the user's code.
    assert "AssertionError: the subject Magnitude failed: " in err
    assert "ValueError: Negative: flux -1.0 is not positive" in err
    assert 'qapl/steps.py", line 23, in process' in err
    # The alert: the rows that should not be there.
    assert "AssertionError: expected no Flare row, found 1." in err
    assert "  <Flare of Nova at mag 2.50>" in err
    # The command: what it printed.
    assert ("AssertionError: 'stars: 5' not found in \"No stars yet: run "
            "'corral load' first.\\n\"") in err


def test_failfast_stops_at_the_first_failure(qapl):
    add_failing_tests(qapl)
    result = run_corral("test", "-vv", "--failfast", cwd=qapl)
    assert result.returncode == 1, result
    assert names_run(result) == LOADER + ["LoaderCountFailsTest"]
    assert "Ran 3 tests" in result.stderr


def test_default_logging_keeps_the_pipelines_log_level(qapl_template):
    # qapl's LOG_LEVEL is INFO: with -dl the runner's progress shows.
    result = run_corral("test", "-dl", "-el", "-ea", "-ec", "-s",
                        "FlareFinder", cwd=qapl_template)
    assert result.returncode == 0, result
    assert "executing step qapl.steps.FlareFinder" in result.stderr


# Every combination of the selection flags is checked in-process in
# test_qa.py; these runs check that the flags reach it from the command line.
@pytest.mark.parametrize("flags, expected", [
    (["-el", "-ea", "-ec", "--steps", "Magnitude", "FlareFinder"],
     MAGNITUDE + FLARES),
    (["-el", "-es", "-ec", "-ag", "report"], ALERT),
    (["-es", "-ea", "-c", "summary"], LOADER + COMMAND),
], ids=["steps", "alert-groups", "commands"])
def test_selection_flags_choose_the_tests(qapl_template, flags, expected):
    result = run_corral("test", "-vv", *flags, cwd=qapl_template)
    assert result.returncode == 0, result
    assert names_run(result) == expected


def test_an_unknown_name_is_a_usage_error_that_lists_the_valid_ones(
        qapl_template):
    result = run_corral("test", "-sg", "nope", cwd=qapl_template)
    assert result.returncode == 2, result
    assert result.stderr == (
        "corral: error: no step group 'nope'; the groups are: flares, "
        "photometry\n")


def test_a_file_test_database_is_new_for_each_test_and_removed(qapl):
    add_setting(qapl, 'TEST_CONNECTION = "sqlite:///qa-tests.db"')
    result = run_corral("test", "-vv", "-el", "-ea", "-ec", "-s", "Magnitude",
                        cwd=qapl)
    assert result.returncode == 0, result
    # IsolationSecondTest stores a star of the same unique name as the
    # test before it: it passes only on a fresh database.
    assert names_run(result) == MAGNITUDE
    assert not (qapl / "qa-tests.db").exists()


def test_the_pipelines_own_database_is_never_a_test_database(qapl):
    created = run_corral("createdb", "--noinput", cwd=qapl)
    assert created.returncode == 0, created
    database = qapl / "qapl-dev.db"
    before = database.read_bytes()
    add_setting(qapl, 'TEST_CONNECTION = "sqlite:///qapl-dev.db"')

    result = run_corral("test", cwd=qapl)
    assert result.returncode == 1, result
    assert result.stderr.startswith(
        "corral: error: settings.TEST_CONNECTION is the pipeline's own "
        "database (sqlite:///")
    assert "point TEST_CONNECTION elsewhere" in result.stderr
    assert database.read_bytes() == before


def test_tests_run_on_duckdb_and_verbose_prints_a_dot_per_test(qapl):
    add_setting(qapl, 'TEST_CONNECTION = "duckdb:///:memory:"')
    result = run_corral("test", "-v", cwd=qapl)
    assert result.returncode == 0, result
    assert result.stderr.splitlines()[0] == "." * len(ALL_PASSING)
    assert names_run(result) == []
    assert result.stderr.rstrip().endswith("OK")


def test_tests_on_a_server_database_create_and_drop_it(qapl, postgres_url):
    import sqlalchemy as sa

    add_setting(qapl, f"TEST_CONNECTION = {postgres_url!r}")
    result = run_corral("test", "-vv", "-el", "-ec", "-s", "Magnitude",
                        cwd=qapl)
    assert result.returncode == 0, result
    assert names_run(result) == MAGNITUDE + ALERT
    name = postgres_url.rsplit("/", 1)[1]
    admin = sa.create_engine(postgres_url.rsplit("/", 1)[0] + "/postgres")
    with admin.connect() as conn:
        left = conn.execute(sa.text(
            "SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name})
        assert left.scalar() == 0
    admin.dispose()


def test_a_pipeline_without_tests_module_is_told_where_to_write_them(qapl):
    (qapl / "qapl" / "tests.py").unlink()
    result = run_corral("test", cwd=qapl)
    assert result.returncode == 1, result
    assert result.stderr == (
        "corral: error: the pipeline has no tests module 'qapl.tests'; write "
        "your qa.TestCase classes in tests.py inside the pipeline package\n")


def test_a_test_without_a_usable_subject_is_named(qapl):
    tests = qapl / "qapl" / "tests.py"
    tests.write_text(tests.read_text() + (
        "\n\nclass NoSubjectTest(qa.TestCase):\n"
        "    subject = models.Star\n\n"
        "    def validate(self):\n"
        "        pass\n"))
    result = run_corral("test", cwd=qapl)
    assert result.returncode == 1, result
    assert result.stderr == (
        "corral: error: qapl.tests.NoSubjectTest.subject is <class "
        "'qapl.models.Star'>; set it to the Loader, Step, Alert or command "
        "class the test is about\n")


def test_a_base_without_subject_is_skipped_unless_nothing_derives_from_it(
        qapl):
    tests = qapl / "qapl" / "tests.py"
    original = tests.read_text()
    tests.write_text(original + (
        "\n\nclass Base(qa.TestCase):\n"
        "    def validate(self):\n"
        "        self.assertStreamCount(1, models.Star)\n\n\n"
        "class DerivedTest(Base):\n"
        "    subject = steps.Magnitude\n\n"
        "    def setup(self):\n"
        "        self.save(models.Star(name='Deneb', flux=2.0))\n"))
    result = run_corral("test", "-vv", "-el", "-ea", "-ec", "-s", "Magnitude",
                        cwd=qapl)
    assert result.returncode == 0, result
    assert names_run(result) == MAGNITUDE + ["DerivedTest"]

    tests.write_text(original + (
        "\n\nclass ForgotTest(qa.TestCase):\n"
        "    def validate(self):\n"
        "        pass\n"))
    result = run_corral("test", cwd=qapl)
    assert result.returncode == 1, result
    assert result.stderr.startswith(
        "corral: error: qapl.tests.ForgotTest.subject is None; set it")


def test_the_scaffold_and_the_iris_example_pass_their_tests(tmp_path):
    scaffold = make_pipeline(tmp_path / "fresh", "fresh", example=None)
    result = run_corral("test", "-vv", cwd=scaffold)
    assert result.returncode == 0, result
    assert "fresh.tests.MyStepTest [step MyStep]" in result.stderr
    assert "Ran 4 tests" in result.stderr  # loader, step, alert, command
    assert not (scaffold / "alerts.log").exists()  # the alert was mocked

    iris = make_pipeline(tmp_path / "iris")
    result = run_corral("test", "-vv", cwd=iris)
    assert result.returncode == 0, result
    assert "Ran 7 tests" in result.stderr
    assert "irispl.tests.StatisticsCreatorTest [step StatisticsCreator]" in (
        result.stderr)


# -- corral profile -------------------------------------------------------------


def test_profile_lists_the_costliest_functions_and_keeps_the_stats(qapl):
    result = run_corral("profile", "-n", "7", "-o", "tests.prof", "-el",
                        "-ea", "-ec", "-s", "Magnitude", cwd=qapl)
    assert result.returncode == 0, result
    assert "Ordered by: cumulative time" in result.stdout
    assert "List reduced from" in result.stdout and "to 7 due to" in (
        result.stdout)
    assert "run_plan" in result.stdout
    assert f"Ran {len(MAGNITUDE)} tests" in result.stderr
    assert "The profile was written to tests.prof" in result.stdout
    stats = pstats.Stats(str(qapl / "tests.prof"))
    assert any(name == "process" and file.endswith("qapl/steps.py")
               for file, _, name in stats.stats)


def test_profile_exits_1_when_a_test_fails(qapl):
    add_failing_tests(qapl)
    result = run_corral("profile", "-el", "-ea", "-ec", "-s", "Magnitude",
                        cwd=qapl)
    assert result.returncode == 1, result
    assert "FAILED (failures=1)" in result.stderr


# -- corral qareport ----------------------------------------------------------------


def summary_value(report, measure):
    match = re.search(rf"^\| {re.escape(measure)} \| (.*) \|$", report,
                      re.MULTILINE)
    assert match, f"no {measure} in the summary"
    return match.group(1)


def percent(text):
    return float(text.strip("*%")) / 100


def test_qareport_of_a_passing_pipeline(qapl, tmp_path):
    # A fake pandoc on PATH: the command suggests it only when found.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pandoc").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "pandoc").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    result = run_corral("qareport", "-o", "report.md", "--coverage-html",
                        cwd=qapl, env=env)
    assert result.returncode == 0, result
    out = result.stdout.splitlines()
    assert out[0] == "The QA report was written to report.md."
    assert "  pandoc report.md -o report.html   # HTML" in out
    assert "The coverage pages are in report-coverage/index.html" in out
    assert (qapl / "report-coverage" / "index.html").is_file()

    report = (qapl / "report.md").read_text()
    assert report.startswith("# Quality report of qapl\n")
    assert summary_value(report, "Tests") == (
        f"{len(ALL_PASSING)} run, 0 failed (all passed)")
    assert summary_value(report, "Processors tested (T / PN)") == "5 of 5"
    assert summary_value(report, "Style errors (MSE)") == "0 in 10 files (PFN)"
    # Module-level lines count as run: settings.py is fully covered, and
    # failing_tests.py, which nothing imports, not at all.
    assert "| `qapl/settings.py` | 12 | 0 | 100.0% | - |" in report
    assert re.search(r"^\| `qapl/failing_tests.py` \| (\d+) \| \1 \| 0.0% \|",
                     report, re.MULTILINE)
    coverage = percent(summary_value(report, "Coverage (COV)"))
    assert 0.8 < coverage < 1
    # No style errors, everything tested, all passing: the QAI is COV.
    qai = percent(summary_value(report, "QAI"))
    assert qai == pytest.approx(coverage, abs=1e-4)
    assert summary_value(report, "Grade") == grade(qai)
    assert "## About the QAI" in report
    assert f"QAI {qai * 100:.2f}% - grade {grade(qai)}" in result.stdout


def test_qareport_with_style_errors_tau_and_custom_grades(qapl):
    (qapl / "qapl" / "messy.py").write_text(
        "import os\nimport sys\nx=1\n")  # F401, F401, E225
    add_setting(qapl, "QAI_TAU = 0.25\n"
                      "SCORE_CUALIFITACIONS = {0: 'FAIL', 40: 'PASS'}")
    result = run_corral("qareport", "--not-explain-qai", cwd=qapl)
    assert result.returncode == 0, result
    report = result.stdout
    assert summary_value(report, "Style errors (MSE)") == "3 in 11 files (PFN)"
    assert summary_value(report, "Style tolerance (tau)") == (
        "0.25 errors per file")
    assert "| `qapl/messy.py` | 3 |" in report
    assert "qapl/messy.py:3:2: E225 missing whitespace around operator" in (
        report)
    coverage = percent(summary_value(report, "Coverage (COV)"))
    expected = 2 * coverage / (1 + math.exp(3 / (0.25 * 11)))
    qai = percent(summary_value(report, "QAI"))
    assert qai == pytest.approx(expected, abs=1e-4)
    assert qai < coverage
    assert summary_value(report, "Grade") == ("PASS" if qai >= 0.4 else "FAIL")
    assert "About the QAI" not in report


def test_qareport_with_a_failing_test_scores_zero(qapl):
    add_failing_tests(qapl)
    (qapl / "qapl" / "steps.py").write_text(
        (qapl / "qapl" / "steps.py").read_text()
        + "\n\nclass Untested(run.Step):\n"
          '    """Listed in settings, with no test."""\n\n'
          "    model = models.Star\n\n"
          "    def process(self, star):\n"
          "        pass\n")
    add_setting(qapl, 'STEPS = STEPS + ["qapl.steps.Untested"]')
    result = run_corral("qareport", "-o", "report.md", "-et", cwd=qapl,
                        env={"PATH": os.defpath})
    assert result.returncode == 0, result
    assert "pandoc" not in result.stdout  # none on this PATH
    report = (qapl / "report.md").read_text()
    assert summary_value(report, "QAI") == "0.00%"
    assert summary_value(report, "Grade") == "F"
    assert summary_value(report, "Tests") == (
        f"{len(ALL_PASSING) + 4} run, 4 failed (FAILED)")
    assert summary_value(report, "Processors tested (T / PN)") == "5 of 6"
    assert "| step | `qapl.steps.Untested` | **untested** |" in report
    assert "### FAIL: `qapl.failing_tests.MagnitudeRaisesTest`" in report
    assert "### Output of the tests" not in report


# -- corral create-doc and create-models-diagram -------------------------------------


def test_create_doc_describes_the_pipeline(qapl_template, tmp_path):
    out = tmp_path / "doc.md"
    result = run_corral("create-doc", "-o", out, cwd=qapl_template,
                        env={"PATH": os.defpath})
    assert result.returncode == 0, result
    assert result.stdout == f"The documentation was written to {out}.\n"
    doc = out.read_text()
    assert doc.startswith("# qapl\n")
    for expected in [
        "### Star\n\nA star of the catalogue; its magnitude is computed",
        "| `name` | VARCHAR(50) | unique, required |  |",
        "| `star_id` | INTEGER | -> Star.id, required |  |",
        "- `flares`: a list of Flare",
        "## Loader\n\n### Loader\n\nLoad every star of the catalogue",
        "### 1. Magnitude\n\nCompute each star's magnitude from its flux.",
        '    - `"Star".magnitude IS NULL`',
        '    - `"Star".magnitude < 6.0`',
        "- **Groups**: photometry",
        "### 1. FlareAlert",
        "- **Alerts to**: `AlertLog(settings.ALERT_LOG)`",
        "### corral summary\n\nPrint how many stars and flares",
        "usage: corral summary [-h] [--brighter-than MAG]",
    ]:
        assert expected in doc
    assert "__corral_alerted__" not in doc


def parse_dot(text):
    """Nodes {name: (label compartments)} and edges [(tail, head, attrs)]
    of the dot text create-models-diagram writes."""
    nodes, edges = {}, []
    for line in text.splitlines():
        node = re.fullmatch(r'\s*"(\w+)" \[label="\{(.*)\}"\];', line)
        if node:
            parts = re.split(r"(?<!\\)\|", node.group(2))
            nodes[node.group(1)] = [
                [item for item in part.split("\\l") if item] for part in parts]
            continue
        edge = re.fullmatch(r'\s*"(\w+)" -> "(\w+)" \[(.*)\];', line)
        if edge:
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', edge.group(3)))
            edges.append((edge.group(1), edge.group(2), attrs))
    return nodes, edges


def test_models_diagram_is_dot_with_columns_and_relations(qapl_template):
    result = run_corral("create-models-diagram", cwd=qapl_template)
    assert result.returncode == 0, result
    text = result.stdout
    assert text.startswith('digraph "qapl_models" {')
    assert text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    nodes, edges = parse_dot(text)
    assert nodes == {
        "Star": [["Star"],
                 ["id : INTEGER (primary key)",
                  "name : VARCHAR(50) (unique, required)",
                  "flux : FLOAT (required)", "magnitude : FLOAT"],
                 ["flares : [Flare]"]],
        "Flare": [["Flare"],
                  ["id : INTEGER (primary key)",
                   "star_id : INTEGER (required)",
                   "magnitude : FLOAT (required)"],
                  ["star : Star"]],
    }
    assert edges == [("Flare", "Star", {"label": "star_id", "taillabel": "*",
                                        "headlabel": "1"})]


def test_models_diagram_to_a_file_and_to_a_picture(qapl_template, tmp_path):
    dot_file = tmp_path / "models.dot"
    result = run_corral("create-models-diagram", "-o", dot_file,
                        cwd=qapl_template)
    assert result.returncode == 0, result
    assert result.stdout.startswith(
        f"The diagram was written to {dot_file}.\n")
    assert parse_dot(dot_file.read_text())[1][0][:2] == ("Flare", "Star")

    png = tmp_path / "models.png"
    result = run_corral("create-models-diagram", "-o", png, cwd=qapl_template)
    if shutil.which("dot"):
        assert result.returncode == 0, result
        assert png.read_bytes().startswith(b"\x89PNG")
    else:
        assert result.returncode == 1, result
        assert result.stderr.startswith(
            f"corral: error: cannot draw {png}: Graphviz's 'dot' program is "
            "not installed")
        assert not png.exists()
