"""The pathway's decision tables (workflows/*.dmn), loaded as deploy loads them and run in the
sandbox by a small harness diagram (tests/fixtures/decisions), without a database.

The values checked are those of docs/pathway.md, "Decisions".
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.calendar import WorkingCalendar
from engine.projection import due_moment
from engine.sandbox import make_script_engine
from engine.validation import ValidatedBundle, validate_paths

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / "workflows"
HARNESS = Path(__file__).parent / "fixtures" / "decisions"
DMN_FILES = ("eligibility.dmn", "timescales.dmn", "support_approval.dmn")
DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
THURSDAY_BEFORE_CHRISTMAS = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)

BASE = {  # what the harness needs besides the inputs a test is about
    "eligibility_rule": "stronger_families",
    "problems": ["health", "worklessness"],
    "headline_outcomes": [],
    "referral_type": "standard",
    "urgency": "routine",
    "support_total": 0,
}


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> ValidatedBundle:
    """A folder holding only the three decision files and the harness, validated as deploy does."""
    root = tmp_path_factory.mktemp("decisions")
    (root / "workflows").mkdir()
    for name in DMN_FILES:
        shutil.copy(WORKFLOWS / name, root / "workflows" / name)
    shutil.copy(HARNESS / "decisions.bpmn", root / "workflows" / "decisions.bpmn")
    shutil.copytree(HARNESS / "forms", root / "forms")
    result = validate_paths([root / "workflows"])
    assert result.problems == []
    assert result.ok
    return result


def start(validated: ValidatedBundle, process_id: str, data: dict[str, Any]) -> BpmnWorkflow:
    spec = validated.parser.get_spec(process_id)
    workflow = BpmnWorkflow(
        spec,
        validated.parser.get_subprocess_specs(process_id),
        script_engine=make_script_engine(WorkingCalendar().helpers()),
    )
    [first] = workflow.get_tasks(state=TaskState.READY)
    first.data.update(data)
    with clock.using(clock.FrozenClock(THURSDAY_BEFORE_CHRISTMAS)):
        workflow.do_engine_steps()
    return workflow


def decide(validated: ValidatedBundle, process_id: str = "decision_harness", **data: Any):
    """Run the harness to its user task and return that task's data."""
    workflow = start(
        validated, process_id, {**BASE, **data} if process_id == "decision_harness" else data
    )
    [task] = workflow.get_tasks(state=TaskState.READY)
    return task.data


# --- the files -----------------------------------------------------------------------------


def test_the_decision_files_alone_validate_cleanly() -> None:
    """What `kinflow validate workflows/eligibility.dmn ...` reports: nothing at all."""
    result = validate_paths([WORKFLOWS / name for name in DMN_FILES])
    assert result.problems == []
    assert result.executable_process_ids == []
    for name in DMN_FILES:
        assert validate_paths([WORKFLOWS / name]).problems == []


@pytest.mark.parametrize("name", DMN_FILES)
def test_every_part_is_named_for_the_modeller(name: str) -> None:
    root = etree.parse(str(WORKFLOWS / name)).getroot()
    assert root.nsmap[None] == DMN_NS
    [decision] = root.findall(f"{{{DMN_NS}}}decision")
    assert decision.get("id") == name.removesuffix(".dmn")
    assert decision.get("name") and decision.findtext(f"{{{DMN_NS}}}description")
    [table] = decision.findall(f"{{{DMN_NS}}}decisionTable")
    assert table.get("hitPolicy") == "FIRST"
    for column in table.findall(f"{{{DMN_NS}}}input"):
        assert column.get("id") and column.get("label")
    for column in table.findall(f"{{{DMN_NS}}}output"):
        assert column.get("id") and column.get("label") and column.get("name")
    rules = table.findall(f"{{{DMN_NS}}}rule")
    assert rules
    for rule in rules:
        assert rule.get("id") and len(rule.findtext(f"{{{DMN_NS}}}description") or "") > 20
    ids = [element.get("id") for element in root.iter() if element.get("id")]
    assert len(ids) == len(set(ids))


def test_inputs_and_outputs_are_the_contracts() -> None:
    def columns(name: str) -> tuple[list[str], list[str]]:
        table = etree.parse(str(WORKFLOWS / name)).getroot().find(f".//{{{DMN_NS}}}decisionTable")
        inputs = [
            t.strip()
            for t in table.xpath(
                "d:input/d:inputExpression/d:text/text()", namespaces={"d": DMN_NS}
            )
        ]
        outputs = [o.get("name") for o in table.findall(f"{{{DMN_NS}}}output")]
        return inputs, outputs

    assert columns("eligibility.dmn") == (
        ["eligibility_rule", "len(problems)", "len(headline_outcomes)"],
        ["eligible", "eligibility_reason"],
    )
    assert columns("timescales.dmn") == (
        ["referral_type", "urgency"],
        ["acknowledge_days", "baseline_days", "baseline_hours", "review_weeks"],
    )
    assert columns("support_approval.dmn") == (["support_total"], ["approval_level"])


# --- eligibility ---------------------------------------------------------------------------

PROBLEMS = [
    "crime_asb",
    "school_attendance",
    "children_need_help",
    "worklessness",
    "domestic_abuse",
    "health",
]
OUTCOMES = ["education", "early_years", "health", "substance_use", "family_relationships"]


@pytest.mark.parametrize(
    ("count", "eligible"), [(0, False), (1, False), (2, True), (3, True), (6, True)]
)
def test_stronger_families_needs_two_of_six_problems(
    validated: ValidatedBundle, count: int, eligible: bool
) -> None:
    data = decide(validated, eligibility_rule="stronger_families", problems=PROBLEMS[:count])
    assert data["eligible"] is eligible
    assert (
        data["eligibility_reason"] == f"{count} of 6 Stronger Families problems (at least 2 needed)"
    )


@pytest.mark.parametrize(("count", "eligible"), [(0, False), (2, False), (3, True), (5, True)])
def test_supporting_families_needs_three_headline_outcomes(
    validated: ValidatedBundle, count: int, eligible: bool
) -> None:
    data = decide(
        validated,
        eligibility_rule="supporting_families",
        problems=PROBLEMS,  # ignored under this rule
        headline_outcomes=OUTCOMES[:count],
    )
    assert data["eligible"] is eligible
    assert data["eligibility_reason"] == (
        f"{count} of 10 Supporting Families headline outcomes (at least 3 needed)"
    )


def test_an_unknown_rule_is_not_eligible_and_says_why(validated: ValidatedBundle) -> None:
    data = decide(validated, eligibility_rule="troubled_families")
    assert data["eligible"] is False
    assert "Unknown eligibility rule 'troubled_families'" in data["eligibility_reason"]


def test_only_the_list_of_the_rule_in_use_must_exist(validated: ValidatedBundle) -> None:
    stronger = {**BASE, "problems": PROBLEMS[:2]}
    del stronger["headline_outcomes"]
    assert decide(validated, "decision_harness", **stronger)["eligible"] is True
    workflow = start(validated, "decision_harness", stronger)
    assert "headline_outcomes" not in workflow.get_tasks(state=TaskState.READY)[0].data

    supporting = {**BASE, "eligibility_rule": "supporting_families", "headline_outcomes": OUTCOMES}
    del supporting["problems"]
    assert decide(validated, "decision_harness", **supporting)["eligible"] is True


def test_a_missing_list_for_the_rule_in_use_stops_the_decision(
    validated: ValidatedBundle,
) -> None:
    """No expression in the sandbox can test whether a name exists, so the BPMN must default it."""
    data = dict(BASE)
    del data["problems"]
    with pytest.raises(WorkflowTaskException, match=r"len\(problems\)"):
        start(validated, "decision_harness", data)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, "0 of 6"),  # neither list given
        ({"problems": None, "headline_outcomes": None}, "0 of 6"),  # null from a form
        ({"problems": []}, "0 of 6"),
        ({"problems": PROBLEMS[:2]}, "2 of 6"),
    ],
)
def test_the_default_lists_script_makes_eligibility_safe(
    validated: ValidatedBundle, given: dict[str, Any], expected: str
) -> None:
    data = decide(
        validated, "eligibility_with_defaults", eligibility_rule="stronger_families", **given
    )
    assert data["eligibility_reason"].startswith(expected)
    assert isinstance(data["problems"], list) and isinstance(data["headline_outcomes"], list)


def test_the_default_lists_script_under_supporting_families(validated: ValidatedBundle) -> None:
    data = decide(validated, "eligibility_with_defaults", eligibility_rule="supporting_families")
    assert data["eligible"] is False
    assert data["eligibility_reason"].startswith("0 of 10 Supporting Families")


# --- timescales ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referral_type", "urgency", "acknowledge", "baseline_days", "review"),
    [
        ("standard", "routine", 2, 5, 12),
        ("standard", "urgent", 2, 5, 12),
        ("pre_proceedings", "routine", 1, 2, 6),
        ("pre_proceedings", "urgent", 1, 2, 6),
        ("something_new", "routine", 2, 5, 12),  # the last row: standard timescales
    ],
)
def test_timescales(
    validated: ValidatedBundle,
    referral_type: str,
    urgency: str,
    acknowledge: int,
    baseline_days: int,
    review: int,
) -> None:
    data = decide(validated, referral_type=referral_type, urgency=urgency)
    assert (
        data["acknowledge_days"],
        data["baseline_days"],
        data["baseline_hours"],
        data["review_weeks"],
    ) == (acknowledge, baseline_days, 24, review)


@pytest.mark.parametrize(
    ("referral_type", "urgency", "acknowledge_by", "baseline_by"),
    [  # from Thursday 24 December 2026, 10:00: Christmas, a weekend, Boxing Day on the 28th
        ("standard", "routine", "2026-12-30T10:00:00+00:00", "2027-01-05T10:00:00+00:00"),
        ("standard", "urgent", "2026-12-30T10:00:00+00:00", "PT24H"),
        ("pre_proceedings", "routine", "2026-12-29T10:00:00+00:00", "2026-12-30T10:00:00+00:00"),
        ("pre_proceedings", "urgent", "2026-12-29T10:00:00+00:00", "PT24H"),
    ],
)
def test_timescales_become_deadlines_with_the_helpers(
    validated: ValidatedBundle,
    referral_type: str,
    urgency: str,
    acknowledge_by: str,
    baseline_by: str,
) -> None:
    data = decide(validated, referral_type=referral_type, urgency=urgency)
    assert data["acknowledge_by"] == acknowledge_by
    assert data["baseline_by"] == baseline_by


def test_the_user_tasks_due_date_expression(validated: ValidatedBundle) -> None:
    """`camunda:dueDate="working_days(acknowledge_days)"`, evaluated as the runtime does."""
    workflow = start(validated, "decision_harness", {**BASE, "referral_type": "pre_proceedings"})
    [task] = workflow.get_tasks(state=TaskState.READY)
    expression = validated.user_tasks["decision_harness"]["check_decisions"].due_date
    with clock.using(clock.FrozenClock(THURSDAY_BEFORE_CHRISTMAS)):
        value = workflow.script_engine.evaluate(task, expression)
        assert due_moment(value, clock.now()) == datetime(2026, 12, 29, 10, 0, tzinfo=UTC)


# --- support approval ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "level"),
    [
        (0, "manager"),
        (500, "manager"),
        (500.0, "manager"),
        (Decimal("500.00"), "manager"),
        (500.01, "senior_manager"),
        (2000, "senior_manager"),
        (float("nan"), "senior_manager"),  # not a plain number: the safe side
    ],
)
def test_support_approval(validated: ValidatedBundle, total: Any, level: str) -> None:
    assert decide(validated, support_total=total)["approval_level"] == level
