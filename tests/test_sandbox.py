"""The sandbox refuses escapes with no effect, bounds work, and still runs real diagrams."""

from __future__ import annotations

import ast
import os
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.camunda.parser import CamundaParser

from engine import clock, sandbox
from engine.errors import SandboxViolation
from engine.sandbox import (
    _GUARDS,
    SAFE_BUILTINS,
    RestrictedEnvironment,
    check_expression,
    check_script,
    make_script_engine,
)


@pytest.fixture
def env() -> RestrictedEnvironment:
    return RestrictedEnvironment()


def refused_everywhere(env: RestrictedEnvironment, source: str, mode: str = "eval") -> str:
    """Run ``source`` for real; it must raise SandboxViolation. Returns the message."""
    with pytest.raises(SandboxViolation) as caught:
        if mode == "eval":
            env.evaluate(source, {"x": 1})
        else:
            env.execute(source, {"x": 1})
    return str(caught.value)


# --- Attacks: each refused, and running it has no effect -----------------------------------


def test_import_builtin_is_refused_without_effect(env, tmp_path):
    marker = tmp_path / "pwned"
    source = f"__import__('os').system('touch {marker}')"
    assert "'_'" in check_expression(source) and "__import__" in check_expression(source)
    refused_everywhere(env, source)
    assert not marker.exists()


def test_import_statement_is_refused_without_effect(env, tmp_path):
    marker = tmp_path / "pwned"
    for script in (f"import os\nos.system('touch {marker}')", "from os import system"):
        assert "import" in check_script(script)
        assert "import" in refused_everywhere(env, script, "exec")
    assert not marker.exists()


def test_subclasses_walk_is_refused_without_effect(env, tmp_path):
    marker = tmp_path / "pwned"
    source = (
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]"
        f"(['touch', '{marker}'])"
    )
    assert check_expression(source).startswith("uses a name starting with '_' (__")
    refused_everywhere(env, source)
    assert not marker.exists()


def test_format_string_attribute_walk_is_refused(env):
    assert "format" in check_expression('"{0.__class__}".format(1)')
    assert "format" in refused_everywhere(env, '"{0.__class__}".format(1)')
    assert "format" in refused_everywhere(env, '"{0.__class__}".format_map({})')


def test_runtime_guards_hold_without_the_compile_time_checks(env, tmp_path):
    """Defence in depth: the guards and the builtins refuse on their own."""
    getattr_guard = _GUARDS["_getattr_"]
    for obj, name in [
        ("{0.__class__}", "format"),
        ("", "format_map"),
        ((), "__class__"),
        ((x for x in []), "gi_frame"),
        (os, "system"),
        (int, "mro"),
        (datetime, "now"),
    ]:
        with pytest.raises(SandboxViolation):
            getattr_guard(obj, name)
    marker = tmp_path / "pwned"
    plain = compile(f"import os\nos.system('touch {marker}')", "<string>", "exec")
    with pytest.raises(ImportError):
        exec(plain, {"__builtins__": env._builtins})
    assert not marker.exists()


@pytest.mark.parametrize("source", ["getattr(x, '__class__')", "open('/etc/passwd')", "type(x)"])
def test_dangerous_builtins_are_absent(env, source):
    name = source.split("(")[0]
    assert f"{name}() is not available" in refused_everywhere(env, source)


@pytest.mark.parametrize(
    "source",
    ["eval('1')", "exec('y = 1')", "compile('1', 'f', 'eval')", "globals()", "vars()", "object()"],
)
def test_introspection_builtins_are_absent(env, source):
    assert source.split("(")[0] not in SAFE_BUILTINS
    refused_everywhere(env, source)
    refused_everywhere(env, source, "exec")


def test_generator_and_frame_tricks_are_refused(env, tmp_path):
    marker = tmp_path / "pwned"
    for source in (
        "(x for x in [1]).gi_frame.f_back.f_globals",
        "(lambda: 1).__globals__",
        "[g.gi_frame for g in [(y for y in [1])]]",
    ):
        assert check_expression(source) is not None
        refused_everywhere(env, source)
    script = (
        "def g():\n    yield 1\nf = g().gi_frame.f_builtins['open']\nf('" + str(marker) + "', 'w')"
    )
    assert "(line 3)" in refused_everywhere(env, script, "exec")
    assert not marker.exists()


def test_clock_bypass_and_foreign_writes_are_refused(env):
    assert "use now() or today()" in refused_everywhere(env, "datetime.now()")
    assert "use now() or today()" in refused_everywhere(env, "today().today()")
    assert "only lists and dictionaries" in refused_everywhere(
        env, "d = today()\nd.year = 1", "exec"
    )


# --- Bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "range(10**9)",
        "list(range(10**100))",
        "10**10**10",
        "2 ** 200000",
        "1 << 10**9",
        "'a' * 10**10",
        "[0] * 10**10",
        "'%10000000000d' % 1",
        "'%*d' % (10**9, 1)",
        "f'{1:>1000000000}'",
        "'x'.ljust(10**10)",
        "'-'.join(['a' * 99999] * 99999)",
        "('a' * 99999).replace('a', 'aa')",
        "repr(repr(repr(repr('\\x00' * 99999))))",
        "[*'a' * 60000, *'b' * 60000]",
        "sum([[0]] * 10, [])",
        "int(Decimal('1e999999'))",
        "round(1, -10**6)",
    ],
)
def test_huge_results_are_refused_before_they_cost_much(env, source):
    started = time.perf_counter()
    message = refused_everywhere(env, source)
    assert message.startswith("Not allowed in a diagram: ")
    assert time.perf_counter() - started < 0.5


def test_growth_in_a_loop_is_refused(env):
    for script in (
        "s = 'ab'\nwhile True:\n    s = s + s",
        "l = [0]\nwhile True:\n    l.extend(l)",
        "l = [0]\nwhile True:\n    l[len(l):] = l",
        "l = [0]\nwhile True:\n    l += l",
    ):
        assert "limit" in refused_everywhere(env, script, "exec")


def test_infinite_loop_stops_within_a_second(env):
    started = time.perf_counter()
    message = refused_everywhere(env, "while True: pass", "exec")
    assert "Stopped" in message and "steps" in message
    assert time.perf_counter() - started < 1.5


def test_catching_the_stop_does_not_help(env):
    script = "while True:\n try:\n  while True:\n   pass\n except Exception:\n  pass"
    assert "Stopped" in refused_everywhere(env, script, "exec")
    assert "Stopped" in refused_everywhere(
        env, "try:\n    while 1: pass\nexcept Exception:\n    x = 2", "exec"
    )


def test_runaway_recursion_and_comprehensions_are_stopped(env, monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_STEPS", 20_000)  # the same stop, sooner
    doubling = "def f(n):\n    return 0 if n == 0 else f(n - 1) + f(n - 1)\nx = f(60)"
    assert "Stopped" in refused_everywhere(env, doubling, "exec")
    lam = "(lambda f: f(f, 60))(lambda f, n: 0 if n == 0 else f(f, n - 1) + f(f, n - 1))"
    assert "Stopped" in refused_everywhere(env, lam)
    assert "Stopped" in refused_everywhere(env, "[1 for a in range(99999) for b in range(99999)]")


# --- Positive behaviour ------------------------------------------------------------------


def test_conditions_over_task_data(env):
    data = {"urgency": "urgent", "children": [{"age": 4}, {"age": 11}]}
    assert env.evaluate('urgency == "urgent" and len(children) > 1', data) is True
    assert env.evaluate("\n   urgency != 'urgent'\n  ", data) is False  # indented as in XML
    assert env.evaluate("[c['age'] for c in children if c['age'] > 5]", data) == [11]
    assert env.evaluate("{c['age']: c for c in children}[4]", data) == {"age": 4}
    assert env.evaluate("max(c['age'] for c in children)", data) == 11
    assert env.evaluate("sorted(children, key=lambda c: -c['age'])[0]['age']", data) == 11
    assert env.evaluate("f'{len(children):03d} {urgency!r}'", data) == "002 'urgent'"
    assert env.evaluate("'%s has %d' % ('case', 2)", data) == "case has 2"
    assert env.evaluate("isinstance(3, int) and isinstance(Decimal('1'), Decimal)", data)
    assert env.evaluate("round(Decimal('2.675'), 2) + int('4')", data) == Decimal("6.68")
    assert env.evaluate("dmninputexpr > 3", data, {"dmninputexpr": 5}) is True


def test_scripts_assign_into_task_data_and_leave_nothing_else(env):
    data = {"children": [{"age": 4}, {"age": 11}]}
    env.execute(
        "ages = [c['age'] for c in children]\n"
        "summary = {'count': len(ages), 'oldest': max(ages)}\n"
        "summary['flags'] = []\n"
        "summary['flags'] += ['checked']\n"
        "total = 0\n"
        "for a, b in zip(ages, ages):\n"
        "    total += a * b\n"
        "def double(n):\n"
        "    return n * 2\n"
        "doubled = double(total)\n"
        "print('debug output goes nowhere')\n",
        data,
    )
    assert data == {
        "children": [{"age": 4}, {"age": 11}],
        "ages": [4, 11],
        "summary": {"count": 2, "oldest": 11, "flags": ["checked"]},
        "total": 137,
        "doubled": 274,
        "a": 11,  # loop variables stay, as with SpiffWorkflow's own environment
        "b": 11,
    }


def test_dates_follow_the_engine_clock(env):
    frozen = clock.FrozenClock(datetime(2025, 3, 31, 23, 30, tzinfo=UTC))
    with clock.using(frozen):
        assert env.evaluate("now()", {}) == frozen.now()
        assert env.evaluate("today()", {}) == date(2025, 3, 31)
        frozen.advance(hours=1)
        assert env.evaluate("today() + timedelta(days=14)", {}) == date(2025, 4, 15)
        data = {"referred": "2025-03-01"}
        env.execute("age = (now().date() - date.fromisoformat(referred)).days", data)
        assert data["age"] == 31
    stamp = "datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(hours=36)"
    assert env.evaluate(stamp, {}) == datetime(2025, 1, 2, 12, tzinfo=UTC)


def test_helpers_are_callable_and_not_left_in_task_data():
    env = RestrictedEnvironment({"working_days": lambda start, n: start + timedelta(days=n)})
    data = {"start": date(2025, 1, 6)}
    assert env.evaluate("working_days(start, 3)", data) == date(2025, 1, 9)
    env.execute("due = working_days(start, 5)", data)
    assert data == {"start": date(2025, 1, 6), "due": date(2025, 1, 11)}
    with pytest.raises(ValueError, match="must not start"):
        RestrictedEnvironment({"_secret": print})


def test_checks_explain_in_one_line():
    assert check_expression('urgency == "urgent"') is None
    assert check_script("x = 1\nfor i in range(3):\n    x += i") is None
    assert check_expression("x ==").startswith("has a syntax error on line 1")
    assert check_script("x = 1\ny = x.__class__") == (
        "uses a name starting with '_' (__class__), which is not allowed (line 2)"
    )
    assert "class" in check_script("class A:\n    pass")
    assert "characters long" in check_expression("1 + " * 2000 + "1")
    assert all("\n" not in (check_script(s) or "") for s in ("import os", "x = (", "a.__b"))


def test_plain_conditions_stay_fast(env):
    data = {"urgency": "urgent", "children": [1, 2]}
    env.evaluate('urgency == "urgent" and len(children) > 1', data)  # compile once
    started = time.perf_counter()
    for _ in range(1000):
        env.evaluate('urgency == "urgent" and len(children) > 1', data)
    assert (time.perf_counter() - started) / 1000 < 50e-6


# --- End to end inside SpiffWorkflow -----------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="kinflow">
  <bpmn:process id="triage" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="count" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>child_count = len(children)
due = today() + timedelta(days=14)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:businessRuleTask id="decide" camunda:decisionRef="pathway">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:exclusiveGateway id="gw" default="slow">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>fast</bpmn:outgoing>
      <bpmn:outgoing>slow</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="count"/>
    <bpmn:sequenceFlow id="f2" sourceRef="count" targetRef="decide"/>
    <bpmn:sequenceFlow id="f3" sourceRef="decide" targetRef="gw"/>
    <bpmn:sequenceFlow id="fast" sourceRef="gw" targetRef="urgent_end">
      <bpmn:conditionExpression>
        pathway == "urgent" and child_count &gt; 1
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="slow" sourceRef="gw" targetRef="normal_end"/>
    <bpmn:endEvent id="urgent_end"><bpmn:incoming>fast</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="normal_end"><bpmn:incoming>slow</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d"
    namespace="kinflow">
  <decision id="pathway" name="Pathway">
    <decisionTable id="table">
      <input id="in1" label="Urgency">
        <inputExpression id="ie1" typeRef="string"><text>urgency</text></inputExpression>
      </input>
      <output id="out1" name="pathway" typeRef="string"/>
      <rule id="r1">
        <inputEntry id="e1"><text>"urgent"</text></inputEntry>
        <outputEntry id="o1"><text>"urgent"</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="e2"><text></text></inputEntry>
        <outputEntry id="o2"><text>"standard"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>"""


def run_triage(data: dict, script: str | None = None) -> BpmnWorkflow:
    parser = CamundaParser()
    bpmn = BPMN if script is None else BPMN.replace("child_count = len(children)", script)
    parser.add_bpmn_str(bpmn.encode())
    parser.add_dmn_str(DMN.encode())
    workflow = BpmnWorkflow(parser.get_spec("triage"), script_engine=make_script_engine())
    workflow.get_tasks(spec_name="start")[0].data.update(data)
    workflow.do_engine_steps()
    return workflow


@pytest.mark.parametrize(
    ("urgency", "children", "end"),
    [
        ("urgent", [1, 2], "urgent_end"),
        ("urgent", [1], "normal_end"),
        ("low", [1, 2], "normal_end"),
    ],
)
def test_workflow_runs_script_dmn_and_gateway_in_the_sandbox(urgency, children, end):
    with clock.using(clock.FrozenClock(datetime(2025, 6, 2, 9, tzinfo=UTC))):
        workflow = run_triage({"urgency": urgency, "children": children})
    assert workflow.is_completed()
    finished = [t.task_spec.name for t in workflow.get_tasks() if t.task_spec.name.endswith("_end")]
    assert finished == [end]
    assert workflow.last_task.data["due"] == date(2025, 6, 16)
    assert workflow.last_task.data["pathway"] == ("urgent" if urgency == "urgent" else "standard")


def test_workflow_script_attack_fails_the_task_without_effect(tmp_path):
    marker = tmp_path / "pwned"
    attack = f"import os\nos.system('touch {marker}')"
    with pytest.raises(WorkflowTaskException) as caught:
        run_triage({"urgency": "urgent", "children": []}, script=attack)
    assert "import" in str(caught.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "source",
    ["-" * 3_990 + "1", "not " * 990 + "x", "a" + ".b" * 1_990, "+".join(["1"] * 1_999)],
)
def test_an_expression_nested_too_deeply_is_refused_and_the_parser_keeps_working(source):
    assert "nested too deeply" in sandbox.check_expression(source)
    # Python 3.11 leaves its parser broken for the whole process after running out of stack
    # while building a syntax tree; nothing refused above may get that far.
    ast.parse("def _(): pass")
    assert sandbox.check_expression("- - 1 + (not not x)") is None
