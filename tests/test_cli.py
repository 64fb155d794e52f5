"""The ``kinflow`` command as a process owner or an installer uses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, REPO
from webapp import create_app
from webapp.cli import main

MIWG = REPO.parent / "shared" / "conformance" / "miwg"


@pytest.fixture
def app(db_url, tmp_path):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "SECRET_KEY": "test",
            "KINFLOW_WORKFLOWS_DIR": str(FIXTURES / "two_lanes"),
            "KINFLOW_FORMS_DIR": str(FIXTURES / "two_lanes" / "forms"),
        }
    )


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_init_db_then_deploy_then_list_versions(run):
    assert run("init-db").exit_code == 0
    assert run("versions").output.strip() == "No process versions are deployed."

    first = run("deploy", "--by", "pat.owner")
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "two_lanes v1: deployed"

    again = run("deploy")
    assert again.output.strip() == "two_lanes v1: unchanged, already deployed"

    listed = run("versions").output.strip().split("\t")
    assert listed[:2] == ["two_lanes", "v1"] and listed[-1] == "pat.owner"


def test_changed_content_is_deployed_as_the_next_version(run, tmp_path):
    run("init-db")
    folder = tmp_path / "changed"
    (folder / "forms").mkdir(parents=True)
    source = FIXTURES / "two_lanes"
    for form in (source / "forms").iterdir():
        (folder / "forms" / form.name).write_text(form.read_text())
    bpmn = (source / "two_lanes.bpmn").read_text()
    (folder / "two_lanes.bpmn").write_text(bpmn)
    assert run("deploy", str(folder)).output.strip() == "two_lanes v1: deployed"

    (folder / "two_lanes.bpmn").write_text(bpmn.replace("Five days pass", "Six days pass"))
    assert run("deploy", str(folder)).output.strip() == "two_lanes v2: deployed"


def test_init_db_is_idempotent(run):
    assert run("init-db").exit_code == 0
    assert run("init-db").exit_code == 0


def validate(*args: str):
    return CliRunner().invoke(main, ["validate", *args])


def test_validate_accepts_a_deployable_diagram():
    result = validate(str(FIXTURES / "two_lanes"))
    assert result.exit_code == 0, result.output
    assert "two_lanes" in result.output


def test_validate_lists_each_problem_on_its_own_line(tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text(
        (FIXTURES / "two_lanes" / "two_lanes.bpmn")
        .read_text()
        .replace('camunda:formKey="triage"', 'camunda:formKey="missing_form"')
    )
    result = validate(str(broken), "--forms", str(FIXTURES / "two_lanes" / "forms"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2  # 'review' and 'escalate' both name the missing form
    assert all(line.startswith("broken.bpmn") and "missing_form" in line for line in lines)


def test_validate_with_bad_usage_exits_2():
    assert validate().exit_code == 2
    assert validate("/no/such/file.bpmn").exit_code == 2


@pytest.mark.skipif(not MIWG.is_dir(), reason="MIWG reference diagrams are not beside the repo")
@pytest.mark.parametrize(
    "diagram", sorted(MIWG.glob("*.bpmn")) if MIWG.is_dir() else [], ids=lambda p: p.name
)
def test_every_miwg_reference_diagram_gets_a_readable_verdict(diagram: Path):
    result = validate(str(diagram))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        for line in result.output.strip().splitlines():
            assert line.startswith(diagram.name), line
            assert len(line.split(": ", 1)[-1]) > 10, line


def test_the_installed_kinflow_command_runs():
    kinflow = Path(sys.executable).parent / "kinflow"
    done = subprocess.run([str(kinflow), "validate"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Usage" in done.stderr
