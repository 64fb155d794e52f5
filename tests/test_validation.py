"""Deploy-time validation: hostile documents are refused by name, valid ones pass untouched.

Most cases edit the realistic fixture in ``fixtures/validation/valid`` (two lanes, forms, a
timer, a decision table, a call activity) in one place, so each test shows exactly which
change is refused and why.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.camunda_props import UserTaskProps, read_user_tasks
from engine.errors import KinflowError, Problem
from engine.validation import Bundle, ValidatedBundle, load_bundle, validate_bundle, validate_paths
from engine.xmlsafe import MAX_BYTES, XmlRejected, make_parser, parse_xml

FIXTURES = Path(__file__).parent / "fixtures" / "validation"
WORKFLOWS = FIXTURES / "valid" / "workflows"
REFERRAL = "referral.bpmn"


def valid_bundle() -> Bundle:
    return load_bundle([WORKFLOWS])


def edited(old: str, new: str, file: str = REFERRAL) -> ValidatedBundle:
    """Validate the valid bundle with one exact piece of one file replaced."""
    bundle = valid_bundle()
    files = bundle.dmn if file.endswith(".dmn") else bundle.bpmn
    text = files[file].decode()
    assert text.count(old) == 1, f"fixture edit {old!r} is ambiguous or missing"
    files[file] = text.replace(old, new).encode()
    return validate_bundle(bundle)


def alone(body: str, process_attrs: str = 'id="p" isExecutable="true"') -> ValidatedBundle:
    """Validate one small hand-written diagram, with no forms or other files."""
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://x">
  <bpmn:process {process_attrs}>
{body}
  </bpmn:process>
</bpmn:definitions>"""
    return validate_bundle(Bundle(bpmn={"small.bpmn": xml.encode()}))


def problems_of(result: ValidatedBundle, element: str | None) -> list[Problem]:
    return [p for p in result.problems if p.element == element]


def the_problem(result: ValidatedBundle, element: str | None, *words: str) -> Problem:
    """The single problem on ``element`` whose message contains every word."""
    found = [p for p in problems_of(result, element) if all(w in p.message for w in words)]
    assert len(found) == 1, "\n".join(str(p) for p in result.problems)
    return found[0]


def everything_said(result: ValidatedBundle) -> str:
    return "\n".join(repr(p) for p in result.problems)


def forced_parse(xml: str) -> str:
    """Parse with the safe parser alone, skipping the DOCTYPE scan; all text it produced."""
    try:
        root = etree.fromstring(xml.encode(), make_parser())
    except etree.XMLSyntaxError as exc:
        return str(exc)
    return etree.tostring(root, encoding="unicode") + "".join(root.itertext())


# --- the valid bundle ----------------------------------------------------------------------


def test_valid_two_lane_bundle_has_no_problems():
    result = validate_paths([WORKFLOWS])
    assert result.problems == []
    assert result.ok
    assert sorted(result.executable_process_ids) == ["hold_conference", "referral"]
    assert result.entry_process_ids == ["referral"]
    assert sorted(result.forms) == ["plan", "referral", "screening"]
    assert result.parser is not None
    assert result.parser.get_subprocess_specs("referral").keys() == {"hold_conference"}


def test_user_task_properties_are_read_from_the_camunda_attributes():
    tasks = validate_paths([WORKFLOWS]).user_tasks
    screen = tasks["referral"]["screen"]
    assert screen == UserTaskProps(
        element_id="screen",
        process_id="referral",
        name="Screen the referral",
        lane="FGC Manager",
        role="fgc_manager",
        candidate_groups=("fgc_manager", "coordinator"),
        candidate_users=(),
        assignee=None,
        due_date="P5D",
        follow_up_date='"P3D"',
        priority="50",
        form_key="screening",
        documentation="Check consent and whether the family wants a conference.",
        line=47,
    )
    submit = tasks["referral"]["submit_referral"]
    assert (submit.lane, submit.role, submit.candidate_groups) == ("Referrer", "referrer", ())
    assert tasks["referral"]["chase_screening"].assignee == "manager_on_duty"
    assert tasks["hold_conference"]["record_plan"].role == "coordinator"
    assert UserTaskProps.from_dict(screen.to_dict()) == screen


def test_forms_are_found_beside_the_workflows_folder_or_given_explicitly(tmp_path):
    assert sorted(load_bundle([WORKFLOWS / REFERRAL]).forms) == ["plan", "referral", "screening"]
    (tmp_path / "only.json").write_text('{"type": "object"}')
    assert list(load_bundle([WORKFLOWS], forms_dir=tmp_path).forms) == ["only"]
    with pytest.raises(KinflowError, match="no such folder"):
        load_bundle([WORKFLOWS], forms_dir=tmp_path / "nowhere")


def test_unreadable_paths_raise_a_clear_error_and_become_a_problem(tmp_path):
    with pytest.raises(KinflowError, match="no such file"):
        load_bundle([tmp_path / "missing.bpmn"])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(KinflowError, match="not a .bpmn"):
        load_bundle([tmp_path / "notes.txt"])
    result = validate_paths([tmp_path / "missing.bpmn"])
    assert not result.ok and "missing.bpmn" in str(result.problems[0])


# --- hostile XML ---------------------------------------------------------------------------


def test_external_entity_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a")
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret}">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&xxe;" isExecutable="true">
    <bpmn:documentation>&xxe;</bpmn:documentation>
  </bpmn:process>
</bpmn:definitions>"""
    result = validate_bundle(Bundle(bpmn={"xxe.bpmn": xml.encode()}))
    problem = the_problem(result, None, "DOCTYPE")
    assert problem.line == 2
    assert "TOP-SECRET" not in everything_said(result)
    # Forced past the scan, the parser itself still loads nothing: it refuses or leaves the
    # entity unexpanded.
    assert "TOP-SECRET" not in forced_parse(xml.replace('name="&xxe;" ', ""))
    assert "TOP-SECRET" not in forced_parse(xml)


def test_entity_hidden_in_utf16_is_refused():
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "b">]><d>&a;</d>'
    with pytest.raises(XmlRejected) as caught:
        parse_xml(xml.encode("utf-16"), "sneaky.bpmn")
    assert caught.value.problem.file == "sneaky.bpmn"


def test_billion_laughs_is_refused_quickly_without_expanding():
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    xml = f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(levels)}]><lolz>&lol9;</lolz>'
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = validate_bundle(Bundle(bpmn={"lol.bpmn": xml.encode()}))
    assert time.perf_counter() - started < 1.0
    the_problem(result, None, "DOCTYPE")
    assert len(forced_parse(xml)) < 10_000  # refused, or left unexpanded
    growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert growth_kb < 100_000


def test_malformed_xml_reports_its_line():
    result = validate_bundle(Bundle(bpmn={"broken.bpmn": b"<a>\n<b>\n</c>\n</a>"}))
    problem = the_problem(result, None, "not well-formed")
    assert (problem.file, problem.line) == ("broken.bpmn", 3)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL bytes"),
        (b"<a>\xff\xfe</a>", "not utf-8 text"),
        (b"<a>" + b" " * MAX_BYTES + b"</a>", "too large"),
        (b"<a>" * 150 + b"</a>" * 150, "levels deep"),
    ],
)
def test_odd_input_is_refused_with_a_reason(data, words):
    with pytest.raises(XmlRejected) as caught:
        parse_xml(data, "odd.bpmn")
    assert words in caught.value.problem.message


def test_latin1_documents_from_older_tools_are_read():
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?><a name="Café"/>'.encode("latin-1")
    assert parse_xml(xml, "old.bpmn").getroot().get("name") == "Café"


def test_schema_errors_name_the_element_and_line():
    result = alone('    <bpmn:startEvent id="s"/>\n    <bpmn:bogus id="b"/>')
    problem = the_problem(result, "bogus 'b'", "does not follow the BPMN schema", "bpmn:bogus")
    assert problem.line == 6


# --- code in diagrams ----------------------------------------------------------------------


def test_script_importing_os_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    script = f'import os\nos.system("touch {marker}")'
    result = edited('summary = "Referral for " + family_name', script)
    the_problem(result, "scriptTask 'summarise'", "script is refused")
    assert not marker.exists()


def test_gateway_condition_escaping_through_subclasses_is_refused():
    result = edited('decision == "accept" and consent', "().__class__.__base__.__subclasses__()")
    problem = the_problem(result, "sequenceFlow 'f_accepted'", "condition", "is refused")
    assert "__subclasses__" in problem.message and problem.line


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('touch {marker}')", "().__class__.__mro__[1].__subclasses__()"],
)
def test_timer_with_a_side_effect_is_refused_and_not_run(tmp_path, expression):
    marker = tmp_path / "timer-ran"
    result = edited('"P14D"', expression.format(marker=marker))
    the_problem(result, "boundaryEvent 'screen_overdue'", "timer", "is refused")
    assert not marker.exists()


def test_unquoted_iso_duration_timer_must_be_quoted():
    result = edited('"P14D"', "P14D")
    problem = the_problem(result, "boundaryEvent 'screen_overdue'", "must be quoted")
    assert 'write "P14D"' in problem.message


@pytest.mark.parametrize(
    ("timer", "words"),
    [
        ('"P"', "not a duration"),
        ('"14 days"', "not a duration"),
        ('"P1W2D"', "not a duration"),
        ("", "no time set"),
    ],
)
def test_bad_timer_values_are_explained(timer, words):
    the_problem(edited('"P14D"', timer), "boundaryEvent 'screen_overdue'", words)


def test_timer_dates_cycles_and_variables():
    timer = "<bpmn:timeDuration"
    for kind, value, ok in [
        ("timeDate", '"2026-01-01T09:00:00Z"', True),
        ("timeDate", '"2026-01-01T09:00:00"', False),  # would depend on the server's zone
        ("timeCycle", '"R3/PT1H"', True),
        ("timeCycle", '"3/PT1H"', False),
        ("timeDuration", "screening_deadline", True),
    ]:
        bundle = valid_bundle()
        text = bundle.bpmn[REFERRAL].decode().replace(timer, f"<bpmn:{kind}")
        text = text.replace("</bpmn:timeDuration>", f"</bpmn:{kind}>").replace('"P14D"', value)
        bundle.bpmn[REFERRAL] = text.encode()
        assert validate_bundle(bundle).ok is ok, (kind, value)


def test_due_dates_and_dmn_cells_are_checked():
    due = edited('camunda:dueDate="P5D"', 'camunda:dueDate="${now() + 5}"')
    the_problem(due, "userTask 'screen'", "due date", "Camunda")
    cell = edited("<text>&lt; 2</text>", "<text>__import__('os')</text>", "urgency.dmn")
    the_problem(cell, "rule 'rule_baby'", "row 2", "input cell")
    glued = edited(' in ["medium", "unknown"]', 'in ["medium", "unknown"]', "urgency.dmn")
    the_problem(glued, "rule 'rule_listed'", "must start with a space")
    policy = edited('hitPolicy="FIRST"', 'hitPolicy="ANY"', "urgency.dmn")
    the_problem(policy, "decisionTable 'urgency_table'", "hit policy ANY")


# --- Kinflow's rules -----------------------------------------------------------------------


def test_process_without_an_id_is_refused():
    result = alone('    <bpmn:startEvent id="s"/>', process_attrs='isExecutable="true"')
    problem = the_problem(result, "process", "has no id")
    assert problem.line == 4


def test_diagram_with_no_executable_process_says_so():
    result = edited('name="Hold the conference" isExecutable="true"', "", "conference.bpmn")
    the_problem(result, None, "no executable process: set isExecutable on a process")
    # ...and the call activity that needs it is told why.
    the_problem(result, "callActivity 'conference'", "not executable")


def test_duplicate_ids_are_refused_with_both_lines():
    result = edited('<bpmn:endEvent id="declined"', '<bpmn:endEvent id="done"')
    problem = the_problem(result, "endEvent 'done'", "already used on line")
    assert problem.line


def test_user_task_in_an_unknown_lane_is_refused_with_the_known_roles():
    result = edited('name="Referrer"', 'name="Family"')
    problem = the_problem(result, "userTask 'submit_referral'", "lane 'Family' is not a role")
    assert "known roles: referrer, fgc_manager" in problem.message
    groups = edited(
        'camunda:candidateGroups="fgc_manager, coordinator"',
        'camunda:candidateGroups="fgc_manager, coordinatr"',
    )
    the_problem(groups, "userTask 'screen'", "'coordinatr' are not roles")


def test_missing_form_is_refused():
    result = edited('camunda:formKey="referral"', 'camunda:formKey="screenng"')
    problem = the_problem(result, "userTask 'submit_referral'", "form 'screenng' not found")
    assert str(problem).startswith("referral.bpmn:34: userTask 'submit_referral': form")


def test_invalid_form_schema_is_refused():
    bundle = valid_bundle()
    bundle.forms["screening"] = b'{"type": "object", "properties": {"x": {"type": "strang"}}}'
    result = validate_bundle(bundle)
    assert any(p.file == "forms/screening.json" for p in result.problems)
    the_problem(result, "userTask 'screen'", "not a valid form")
    assert "screening" not in result.forms


def test_call_activity_to_a_missing_process_is_refused():
    result = edited('calledElement="hold_conference"', 'calledElement="hold_conferense"')
    problem = the_problem(result, "callActivity 'conference'", "'hold_conferense'")
    assert "not in this bundle" in problem.message
    assert sorted(result.entry_process_ids) == ["hold_conference", "referral"]


def test_decision_ref_to_a_missing_decision_is_refused():
    result = edited('camunda:decisionRef="urgency"', 'camunda:decisionRef="urgent"')
    problem = the_problem(result, "businessRuleTask 'assess_urgency'", "decision 'urgent'")
    assert "not found" in problem.message


def test_structural_errors_from_spiffworkflow_get_an_element_and_line():
    result = edited(
        '<bpmn:exclusiveGateway id="accepted" name="Accepted?" default="f_declined">',
        '<bpmn:exclusiveGateway id="accepted" name="Accepted?">',
    )
    problem = the_problem(result, "sequenceFlow 'f_declined'", "no condition")
    assert problem.line and problem.file == REFERRAL


def test_a_broken_decision_file_is_named_at_the_task_that_uses_it():
    result = edited('<output id="output_urgency"', "<output", "urgency.dmn")
    the_problem(result, "decisionTable 'urgency_table'", "output has no id")
    the_problem(result, "businessRuleTask 'assess_urgency'", "until urgency.dmn is fixed")


def test_an_id_that_is_not_an_xml_name_is_explained():
    result = edited('<bpmn:endEvent id="declined"', '<bpmn:endEvent id="2 declined"')
    the_problem(result, "endEvent '2 declined'", "must start with a letter")


# --- lanes ---------------------------------------------------------------------------------


def test_lanes_resolve_through_nested_lane_sets_and_sub_processes():
    xml = b"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <bpmn:collaboration id="c"><bpmn:participant id="part" processRef="p"/></bpmn:collaboration>
  <bpmn:process id="p">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="outer" name="Service">
        <bpmn:flowNodeRef>a</bpmn:flowNodeRef><bpmn:flowNodeRef>sub</bpmn:flowNodeRef>
        <bpmn:childLaneSet id="cls">
          <bpmn:lane id="inner" name="Coordinator">
            <bpmn:flowNodeRef>a</bpmn:flowNodeRef>
          </bpmn:lane>
          <bpmn:lane id="mgr" name="FGC Manager">
            <bpmn:flowNodeRef>sub</bpmn:flowNodeRef>
          </bpmn:lane>
        </bpmn:childLaneSet>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:userTask id="a"/>
    <bpmn:subProcess id="sub"><bpmn:userTask id="b"/></bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>"""
    tasks = read_user_tasks(etree.fromstring(xml))
    assert (tasks["a"].lane, tasks["a"].role, tasks["a"].process_id) == (
        "Coordinator",
        "coordinator",
        "p",
    )
    assert (tasks["b"].lane, tasks["b"].role, tasks["b"].process_id) == (
        "FGC Manager",
        "fgc_manager",
        "sub",
    )


# --- robustness ----------------------------------------------------------------------------

# No example database: it would litter the repository with a .hypothesis folder.
_FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def _assert_reported(result: ValidatedBundle) -> None:
    assert isinstance(result, ValidatedBundle)
    for problem in result.problems:
        assert problem.file and problem.message.strip()


@_FAST
@given(st.binary(max_size=2000), st.sampled_from(["bpmn", "dmn", "forms"]))
def test_arbitrary_bytes_never_raise(data, kind):
    bundle = Bundle()
    getattr(bundle, kind)["x.bpmn" if kind == "bpmn" else "x.dmn" if kind == "dmn" else "x"] = data
    result = validate_bundle(bundle)
    _assert_reported(result)
    assert not result.ok or kind == "forms"


_VALID_TEXT = (WORKFLOWS / REFERRAL).read_bytes()


@_FAST
@given(st.data())
def test_byte_mutations_of_a_valid_diagram_never_raise(data):
    text = bytearray(_VALID_TEXT)
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text) - 1))
        end = data.draw(st.integers(start, min(len(text), start + 40)))
        text[start:end] = data.draw(st.binary(max_size=20) | st.sampled_from([b"<", b'"', b"/>"]))
    bundle = valid_bundle()
    bundle.bpmn[REFERRAL] = bytes(text)
    _assert_reported(validate_bundle(bundle))


_TAGS = [
    "task",
    "userTask",
    "subProcess",
    "callActivity",
    "exclusiveGateway",
    "startEvent",
    "endEvent",
    "boundaryEvent",
    "scriptTask",
    "businessRuleTask",
    "sequenceFlow",
    "lane",
]


@_FAST
@given(st.data())
def test_element_mutations_of_a_valid_diagram_never_raise(data):
    root = etree.fromstring(_VALID_TEXT)
    elements = [e for e in root.iter() if isinstance(e.tag, str)][1:]
    for _ in range(data.draw(st.integers(1, 3))):
        element = data.draw(st.sampled_from(elements))
        action = data.draw(st.sampled_from(["drop", "retag", "attr", "strip"]))
        if action == "drop" and element.getparent() is not None:
            element.getparent().remove(element)
        elif action == "retag":
            element.tag = "{http://www.omg.org/spec/BPMN/20100524/MODEL}" + data.draw(
                st.sampled_from(_TAGS)
            )
        elif action == "attr":
            name = data.draw(
                st.sampled_from(
                    ["id", "sourceRef", "targetRef", "attachedToRef", "calledElement", "default"]
                )
            )
            element.set(name, data.draw(st.sampled_from(["", "start", "screen", "x y", "p"])))
        else:
            element.attrib.clear()
    bundle = valid_bundle()
    bundle.bpmn[REFERRAL] = etree.tostring(root)
    _assert_reported(validate_bundle(bundle))


def test_an_assignee_expression_must_compile(tmp_path):
    from engine.validation import validate_paths

    source = (Path(__file__).parent / "fixtures" / "two_lanes" / "two_lanes.bpmn").read_text()
    broken = source.replace(
        'camunda:candidateGroups="fgc_manager" camunda:dueDate="P2D"',
        'camunda:candidateGroups="fgc_manager" camunda:dueDate="P2D" '
        "camunda:assignee=\"${__import__('os')}\"",
    )
    (tmp_path / "two_lanes.bpmn").write_text(broken)
    forms = Path(__file__).parent / "fixtures" / "two_lanes" / "forms"
    validated = validate_paths([tmp_path / "two_lanes.bpmn"], forms_dir=forms)
    assert [p.element for p in validated.problems] == ["userTask 'review'"]
    assert "assignee" in validated.problems[0].message
