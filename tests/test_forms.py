"""The shipped forms (forms/*.json) against docs/pathway.md and a fictional family's answers.

No database: each form is loaded from disk and checked with engine.forms, the same functions
deploy and task completion use. The example family (the Ashdowns) is made up.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.forms import schema_problems, validate_submission

REPO = Path(__file__).resolve().parents[1]
FORMS = REPO / "forms"
PATHWAY = REPO / "docs" / "pathway.md"
REQUIRED = "This field is required."

# --- one valid submission per form: the (fictional) Ashdown family ----------------------------

_ACTIONS = [
    {
        "what": "Take Leo to Brook Lane Primary every school morning",
        "who": "Nan Ashdown",
        "by_when": "2026-05-29",
        "who_checks": "Tasha Ashdown",
    },
    {
        "what": "Kerry goes to the Tuesday recovery group at the Family Hub",
        "who": "Kerry Ashdown",
        "by_when": "2026-06-30",
        "who_checks": "Sam Okafor",
    },
]

EXAMPLES: dict[str, dict[str, Any]] = {
    "referral": {
        "referrer_name": "Priya Lane",
        "referrer_organisation": "Northvale Children's Services, Family Help Team East",
        "referrer_phone": "01632 960123",
        "referrer_email": "priya.lane@northvale.example.org",
        "family_name": "Ashdown",
        "people": [
            {
                "name": "Leo Ashdown",
                "date_of_birth": "2017-09-14",
                "is_child": True,
                "gender": "male",
                "ethnicity": "White British",
                "first_language": "English",
                "interpreter_needed": False,
                "disability": "Asthma; uses an inhaler at school",
                "relationship_to_child": "The child",
                "parental_responsibility": False,
            },
            {
                "name": "Maisie Ashdown",
                "date_of_birth": "2021-11-02",
                "is_child": True,
                "gender": "female",
                "relationship_to_child": "Sister",
                "parental_responsibility": False,
            },
            {
                "name": "Baby Ashdown (unborn)",
                "due_date": "2026-07-20",
                "is_child": True,
                "gender": "not_known",
                "relationship_to_child": "Unborn sibling",
                "parental_responsibility": False,
            },
            {
                "name": "Kerry Ashdown",
                "date_of_birth": "1996-03-08",
                "is_child": False,
                "gender": "female",
                "ethnicity": "White British",
                "first_language": "English",
                "interpreter_needed": False,
                "religion": "None",
                "relationship_to_child": "Mother",
                "parental_responsibility": True,
                "phone": "07700 900123",
                "email": "kerry.ashdown@example.com",
                "postcode": "LU1 2AB",
            },
            {
                "name": "Nan Ashdown",
                "date_of_birth": "1961-06-30",
                "is_child": False,
                "gender": "female",
                "first_language": "English",
                "religion": "Church of England",
                "disability": "Arthritis in both knees; cannot manage stairs",
                "relationship_to_child": "Maternal grandmother",
                "parental_responsibility": False,
                "phone": "+44 7700 900456",
                "postcode": "lu3 1xy",
            },
        ],
        "child_status": "child_in_need",
        "referral_type": "standard",
        "urgency": "routine",
        "why_now": (
            "Leo has missed 30% of school this term and Kerry, who is pregnant, has told us she"
            " cannot manage mornings. Nan wants to help but lives across town."
        ),
        "what_needs_to_change": (
            "Leo gets to school every day and Maisie to nursery; Kerry has support with her"
            " drinking before the baby arrives."
        ),
        "problems": ["school_attendance", "children_need_help", "health"],
        "headline_outcomes": ["education", "substance_use", "family_relationships"],
        "consent_given": True,
        "consent_given_by": "Kerry Ashdown",
    },
    "acknowledgement": {
        "acknowledged_on": "2026-03-03",
        "note": "Told Priya we will screen the referral by Thursday.",
    },
    "screening": {
        "screening_decision": "decline",
        "decline_reason": "other_service_better",
        "screening_note": "Kerry already has a lead practitioner; the Family Hub can help first.",
    },
    "more_information": {
        "additional_information": "Leo's father, Dean Price, has parental responsibility too.",
    },
    "decline_notice": {
        "referrer_told_on": "2026-03-05",
        "family_hub_signposted": True,
        "family_hub_name": "Marsh Farm Family Hub",
    },
    "allocation": {
        "coordinator": "sokafor",
        "matching_preferences": ["gender"],
        "matching_note": "Kerry asked for a woman coordinator.",
        "referrer_contact_by": "2026-03-09",
    },
    "baseline_meeting": {
        "meeting_date": "2026-03-10",
        "questions_for_family": [
            "Who will take Leo to school each day?",
            "How will Kerry be supported when the baby arrives?",
        ],
        "bottom_lines": ["Leo and Maisie must not be cared for by an adult who has been drinking."],
        "resources_offered": ["Bus passes for school runs", "Family Hub recovery group"],
    },
    "family_assessment": {
        "members": [
            {
                "name": "Leo Ashdown",
                "needs": "Regular school attendance; help to catch up with reading.",
                "strengths": "Loves football and his Nan.",
            },
            {
                "name": "Nan Ashdown",
                "needs": "Somewhere to stay over on school nights.",
                "strengths": "Reliable, calm, already does Saturday care.",
            },
        ],
        "child_views": "Leo says: 'I want to stay with Mum and see Nan more.'",
        "assessment_summary": "A close family with a willing grandmother; mornings are the gap.",
    },
    "network_preparation": {
        "has_network": True,
        "network": [
            {
                "name": "Nan Ashdown",
                "relationship": "Maternal grandmother",
                "contact_made": True,
                "contact_method": "visit",
                "attendance": "in_person",
                "needs_advocate": False,
                "needs_interpreter": False,
            },
            {
                "name": "Tasha Ashdown",
                "relationship": "Maternal aunt",
                "contact_made": True,
                "contact_method": "video",
                "attendance": "video",
                "needs_interpreter": False,
            },
            {
                "name": "Grzegorz Nowak",
                "relationship": "Neighbour",
                "contact_made": True,
                "contact_method": "phone",
                "attendance": "in_writing",
                "needs_interpreter": True,
                "language": "Polish",
            },
        ],
        "child_advocate_offered": True,
    },
    "family_hub_link": {
        "family_hub_name": "Marsh Farm Family Hub",
        "linked_on": "2026-04-01",
        "smaller_meeting_planned": True,
    },
    "conference_arrangements": {
        "conference_date": "2026-04-18",
        "venue": "St Anne's community room, Marsh Road",
        "language": "English",
        "food_arranged": True,
        "interpreter_booked": False,
    },
    "conference_record": {
        "held_on": "2026-04-18",
        "attendees": ["Kerry Ashdown", "Nan Ashdown", "Tasha Ashdown", "Leo Ashdown"],
        "information_givers": ["Priya Lane", "Ms Haddad (Brook Lane Primary)"],
        "private_family_time_held": True,
        "actions": _ACTIONS,
        "contingency_plan": "If Nan is unwell, Tasha does the school run and Kerry calls Priya.",
        "plan_monitor": "Tasha Ashdown",
        "next_review_date": "2026-07-11",
    },
    "plan_acceptance": {
        "plan_decision": "reject",
        "rejection_reason": "The plan does not say who looks after Maisie while Kerry is at group.",
    },
    "plan_revision": {
        "actions": _ACTIONS,
        "contingency_plan": "If Nan is unwell, Tasha does the school run and Kerry calls Priya.",
        "revision_note": "Nan looks after Maisie on Tuesday afternoons while Kerry is at group.",
    },
    "plan_circulation": {
        "circulated_on": "2026-04-20",
        "circulated_to": ["Kerry Ashdown", "Nan Ashdown", "Tasha Ashdown", "Priya Lane"],
    },
    "support_request": {
        "support_needed": True,
        "items": [
            {
                "description": "Sofa bed so Nan can stay over on school nights",
                "category": "furniture",
                "cost": 349.99,
                "beneficiary": "Nan Ashdown",
            },
            {
                "description": "Fuel for Tasha's Friday school runs, one term",
                "category": "transport",
                "cost": 120,
                "beneficiary": "Tasha Ashdown",
            },
        ],
        "support_total": 469.99,
        "justification": "Lets Nan be at Kerry's flat for the 8 am school run.",
    },
    "support_approval": {
        "support_approved": True,
        "approval_note": "Approved as requested.",
    },
    "support_payment": {
        "paid_on": "2026-04-27",
        "payment_reference": "NV-PC-2026-00417",
    },
    "review": {
        "held_on": "2026-07-11",
        "progress": [
            {"action": "Nan takes Leo to school", "status": "on_track", "note": "97% attendance."},
            {"action": "Kerry goes to recovery group", "status": "behind"},
        ],
        "family_view": "Mornings are calmer. Kerry wants a new group time after the baby.",
        "another_review": True,
        "next_review_date": "2026-10-10",
    },
    "closure": {
        "closure_reason": "plan_achieved",
        "outcomes": [
            {"problem": "school_attendance", "significant_progress": True, "note": "96% in term."},
            {"problem": "health", "significant_progress": True},
        ],
        "family_feedback": "Kerry: 'For once we made the plan ourselves.'",
    },
    "six_month_check": {
        "checked_on": "2027-05-04",
        "outcomes": [
            {"problem": "school_attendance", "sustained": True, "note": "95% this year."},
            {"problem": "health", "sustained": False, "note": "Kerry relapsed in March."},
        ],
    },
    "twelve_month_follow_up": {
        "followed_up_on": "2027-11-02",
        "children": [
            {
                "child_name": "Leo Ashdown",
                "living": "kin",
                "proceedings_issued": False,
                "note": "Lives with Nan in the week and goes home at weekends.",
            },
            {"child_name": "Maisie Ashdown", "living": "parents", "proceedings_issued": False},
        ],
    },
    "safeguarding_review": {
        "safeguarding_decision": "step_up",
        "mash_reference": "MASH-2026-01234",
        "safeguarding_reason": "Leo disclosed being left alone overnight with Maisie.",
    },
}

# Each conditional rule: (form, field that triggers it, value that requires, other values that
# do not, the field it requires).
CONDITIONS = [
    ("screening", "screening_decision", "decline", ["accept"], "decline_reason"),
    ("screening", "screening_decision", "more_information", ["accept"], "information_needed"),
    ("plan_acceptance", "plan_decision", "reject", ["accept"], "rejection_reason"),
    ("support_request", "support_needed", True, [False], "support_total"),
    ("review", "another_review", True, [False], "next_review_date"),
    ("safeguarding_review", "safeguarding_decision", "step_up", ["continue"], "mash_reference"),
]

GOOD_PHONES = [
    "01632 960123",
    "07700 900123",
    "+44 7700 900123",
    "+447700900123",
    "+44 (0) 7700 900123",
    "020 7946 0958",
    "0161-496-0000",
    "0800 123456",
]
BAD_PHONES = ["07700 9OO123", "call me", "ext 123", "1234", "07700 900123 x", "+1 202 555 0100"]
GOOD_POSTCODES = ["LU1 2AB", "SW1A 1AA", "M1 1AE", "B33 8TH", "lu12ab", "ec1a 1bb"]
BAD_POSTCODES = ["12345", "LU1 2A", "LU1-2AB", "LUTON", " LU1 2AB", "LU1 2AB!", "1LU 2AB"]

# --- helpers -----------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


def form_files() -> list[str]:
    return sorted(p.stem for p in FORMS.glob("*.json"))


@cache
def _text(key: str) -> str:
    return (FORMS / f"{key}.json").read_text(encoding="utf-8")


def load(key: str) -> dict[str, Any]:
    return json.loads(_text(key))


def pathway_form_keys() -> list[str]:
    """Form keys listed in the Forms section of docs/pathway.md (lines "- `key`: ...")."""
    section = PATHWAY.read_text(encoding="utf-8").split("\n## Forms", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- `([a-z0-9_]+)`:", section, flags=re.MULTILINE)


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def fields(schema: dict[str, Any], path: Path_ = ()) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """Every field as (path, schema); arrays are walked through their first item."""
    for name, sub in schema.get("properties", {}).items():
        here = (*path, name)
        yield here, sub
        if sub.get("type") == "object":
            yield from fields(sub, here)
        items = sub.get("items")
        if sub.get("type") == "array" and isinstance(items, dict):
            yield (*here, 0), items
            if items.get("type") == "object":
                yield from fields(items, (*here, 0))


def objects(schema: dict[str, Any], path: Path_ = ()) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """The form itself and every object inside it (array items at index 0)."""
    yield path, schema
    for here, sub in fields(schema, path):
        if sub.get("type") == "object":
            yield here, sub


def required_paths(schema: dict[str, Any]) -> Iterator[Path_]:
    for path, sub in objects(schema):
        for name in sub.get("required", []):
            yield (*path, name)


def changed(key: str, path: Path_, value: Any) -> dict[str, Any]:
    """The key's example with the field at path set to value."""
    data = copy.deepcopy(EXAMPLES[key])
    *parents, last = path
    target: Any = data
    for part in parents:
        target = target[part]
    target[last] = value
    return data


def without(key: str, path: Path_) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLES[key])
    *parents, last = path
    target: Any = data
    for part in parents:
        target = target[part]
    del target[last]
    return data


def cases(predicate) -> list[Any]:
    """pytest params (key, path) for every field of every form that matches predicate."""
    return [
        pytest.param(key, path, id=f"{key}:{dotted(path)}")
        for key in form_files()
        for path, sub in fields(load(key))
        if predicate(path, sub)
    ]


def is_text(sub: dict[str, Any]) -> bool:
    return sub.get("type") == "string" and not {"enum", "format", "pattern"} & set(sub)


def conditionals(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "if" in schema:
        yield schema
    for part in schema.get("allOf", []):
        yield from conditionals(part)


FORM_KEYS = form_files()

# --- the set of forms ---------------------------------------------------------------------------


def test_every_pathway_form_has_a_file_and_every_file_is_in_the_pathway():
    listed = pathway_form_keys()
    assert len(listed) == 23, listed
    assert sorted(listed) == FORM_KEYS


def test_there_is_one_example_per_form():
    assert sorted(EXAMPLES) == FORM_KEYS


# --- each form is a usable, well-described schema ----------------------------------------------


@pytest.mark.parametrize("key", FORM_KEYS)
def test_form_passes_the_deploy_check(key):
    assert schema_problems(load(key)) == []


@pytest.mark.parametrize("key", FORM_KEYS)
def test_form_is_described_for_workers(key):
    schema = load(key)
    assert schema["type"] == "object"
    assert schema["title"].strip() and len(schema["title"]) <= 80
    assert 40 <= len(schema["description"]) <= 400
    for path, obj in objects(schema):
        assert obj.get("additionalProperties") is False, dotted(path)
        assert obj["x-order"] == list(obj["properties"]), dotted(path)
        assert set(obj.get("required", [])) <= set(obj["properties"]), dotted(path)
    for path, sub in fields(schema):
        if path[-1] != 0:
            assert sub.get("title", "").strip(), f"{dotted(path)} has no title"
        if "enum" in sub:
            assert list(sub["x-labels"]) == sub["enum"], dotted(path)
            assert all(label.strip() for label in sub["x-labels"].values())
        if is_text(sub):
            assert sub.get("maxLength") in {120, 500, 5000}, dotted(path)
        if sub.get("x-help"):
            assert sub["x-help"].strip().endswith((".", "?", "'")), dotted(path)


@pytest.mark.parametrize("key", FORM_KEYS)
def test_required_text_cannot_be_blank(key):
    schema = load(key)
    for path, obj in objects(schema):
        for name in obj.get("required", []):
            sub = obj["properties"][name]
            if is_text(sub):
                assert sub.get("minLength") == 1, dotted((*path, name))
                errors = validate_submission(schema, changed(key, (*path, name), ""))
                assert errors == {dotted((*path, name)): REQUIRED}


def test_fields_follow_the_contract_in_pathway_md():
    """Spot checks of types and enumerations the diagrams rely on."""
    referral = load("referral")["properties"]
    person = referral["people"]["items"]["properties"]
    assert referral["problems"]["items"]["enum"] == [
        "crime_asb",
        "school_attendance",
        "children_need_help",
        "worklessness",
        "domestic_abuse",
        "health",
    ]
    assert referral["problems"]["uniqueItems"] and referral["headline_outcomes"]["uniqueItems"]
    assert len(referral["headline_outcomes"]["items"]["enum"]) == 10
    assert referral["consent_given"]["const"] is True
    assert referral["people"]["minItems"] == 1
    assert person["gender"]["enum"] == ["female", "male", "non_binary", "not_known"]
    assert load("conference_record")["properties"]["actions"]["minItems"] == 1
    revision_actions = load("plan_revision")["properties"]["actions"]
    assert revision_actions == load("conference_record")["properties"]["actions"]
    assert load("screening")["properties"]["screening_decision"]["enum"] == [
        "accept",
        "decline",
        "more_information",
    ]
    support = load("support_request")["properties"]
    assert (
        support["support_total"]["type"]
        == support["items"]["items"]["properties"]["cost"]["type"]
        == "number"
    )


# --- the examples --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", FORM_KEYS)
def test_example_submission_is_valid(key):
    assert validate_submission(load(key), EXAMPLES[key]) == {}


@pytest.mark.parametrize(
    ("key", "path"),
    [
        pytest.param(key, path, id=f"{key}:{dotted(path)}")
        for key in FORM_KEYS
        for path in required_paths(load(key))
    ],
)
def test_missing_required_field_is_named(key, path):
    errors = validate_submission(load(key), without(key, path))
    assert errors == {dotted(path): REQUIRED}


def test_nested_required_fields_are_named_by_their_full_path():
    data = without("referral", ("people", 3, "parental_responsibility"))
    assert validate_submission(load("referral"), data) == {
        "people.3.parental_responsibility": REQUIRED
    }
    data = without("conference_record", ("actions", 1, "by_when"))
    assert validate_submission(load("conference_record"), data) == {"actions.1.by_when": REQUIRED}


@pytest.mark.parametrize(("key", "path"), cases(lambda path, sub: "enum" in sub))
def test_a_value_outside_the_choices_is_refused(key, path):
    schema = load(key)
    errors = validate_submission(schema, changed(key, path, "not_a_choice"))
    assert list(errors) == [dotted(path)]
    assert errors[dotted(path)].startswith("Choose one of: ")


@pytest.mark.parametrize(("key", "path"), cases(lambda path, sub: sub.get("format") == "date"))
@pytest.mark.parametrize("bad", ["31/02/2026", "2026-02-31", "next Tuesday", ""])
def test_a_bad_date_is_refused(key, path, bad):
    errors = validate_submission(load(key), changed(key, path, bad))
    assert errors == {dotted(path): "Not a valid date (YYYY-MM-DD)."}


@pytest.mark.parametrize(("key", "path"), cases(lambda path, sub: sub.get("format") == "email"))
def test_a_bad_email_is_refused(key, path):
    errors = validate_submission(load(key), changed(key, path, "kerry.ashdown.example.com"))
    assert errors == {dotted(path): "Not a valid email address."}


@pytest.mark.parametrize(("key", "path"), cases(lambda path, sub: path[-1] == "postcode"))
@pytest.mark.parametrize("bad", BAD_POSTCODES)
def test_a_bad_postcode_is_refused(key, path, bad):
    errors = validate_submission(load(key), changed(key, path, bad))
    assert list(errors) == [dotted(path)]


@pytest.mark.parametrize(("key", "path"), cases(lambda path, sub: "phone" in str(path[-1])))
@pytest.mark.parametrize("bad", BAD_PHONES)
def test_a_bad_phone_number_is_refused(key, path, bad):
    errors = validate_submission(load(key), changed(key, path, bad))
    assert list(errors) == [dotted(path)]


@pytest.mark.parametrize("good", GOOD_PHONES)
def test_uk_phone_numbers_are_accepted(good):
    for path in [("referrer_phone",), ("people", 3, "phone")]:
        assert validate_submission(load("referral"), changed("referral", path, good)) == {}


@pytest.mark.parametrize("good", GOOD_POSTCODES)
def test_uk_postcodes_are_accepted_in_either_case(good):
    data = changed("referral", ("people", 3, "postcode"), good)
    assert validate_submission(load("referral"), data) == {}


def test_every_phone_and_postcode_field_uses_the_same_pattern():
    patterns: dict[str, set[str]] = {"phone": set(), "postcode": set()}
    for key in FORM_KEYS:
        for path, sub in fields(load(key)):
            for kind in patterns:
                if kind in str(path[-1]):
                    patterns[kind].add(sub["pattern"])
    assert len(patterns["phone"]) == 1 and len(patterns["postcode"]) == 1


def test_consent_must_be_given():
    errors = validate_submission(load("referral"), changed("referral", ("consent_given",), False))
    assert list(errors) == ["consent_given"]


@pytest.mark.parametrize("cost", [0, 19.99, 0.07, 349.95, 1250])
def test_money_in_pounds_and_pence_is_accepted(cost):
    # Not "multipleOf": 0.01: jsonschema divides floats, so it refuses 19.99 and 0.07.
    data = changed("support_request", ("items", 0, "cost"), cost)
    data["support_total"] = cost
    assert validate_submission(load("support_request"), data) == {}


@pytest.mark.parametrize("path", [("items", 0, "cost"), ("support_total",)])
def test_negative_money_is_refused(path):
    errors = validate_submission(load("support_request"), changed("support_request", path, -5))
    assert list(errors) == [dotted(path)]


def test_lists_with_a_minimum_refuse_an_empty_list():
    for key, field in [
        ("referral", "people"),
        ("baseline_meeting", "questions_for_family"),
        ("conference_record", "attendees"),
        ("conference_record", "actions"),
        ("plan_revision", "actions"),
        ("plan_circulation", "circulated_to"),
        ("twelve_month_follow_up", "children"),
    ]:
        assert list(validate_submission(load(key), changed(key, (field,), []))) == [field]


def test_a_problem_cannot_be_ticked_twice():
    data = changed("referral", ("problems",), ["health", "health"])
    assert list(validate_submission(load("referral"), data)) == ["problems"]


@pytest.mark.parametrize("key", FORM_KEYS)
def test_fields_the_form_does_not_have_are_refused(key):
    # Submitted fields become process variables: a form must not let anyone set others.
    data = {**EXAMPLES[key], "eligible": True}
    assert list(validate_submission(load(key), data)) == ["(form)"]


@pytest.mark.parametrize("key", FORM_KEYS)
def test_a_submission_that_is_not_an_object_is_refused(key):
    assert list(validate_submission(load(key), ["not", "an", "object"])) == ["(form)"]


# --- conditional requirements ------------------------------------------------------------------


def test_every_conditional_rule_is_tested():
    found = set()
    for key in FORM_KEYS:
        for rule in conditionals(load(key)):
            (trigger,) = rule["if"]["properties"]
            value = rule["if"]["properties"][trigger]["const"]
            assert rule["if"]["required"] == [trigger]
            for needed in rule["then"]["required"]:
                found.add((key, trigger, json.dumps(value), needed))
    assert found == {(k, t, json.dumps(v), n) for k, t, v, _, n in CONDITIONS}


@pytest.mark.parametrize(("key", "trigger", "value", "others", "needed"), CONDITIONS)
def test_conditional_field_is_required_when_triggered(key, trigger, value, others, needed):
    data = changed(key, (trigger,), value)
    data.pop(needed, None)
    assert validate_submission(load(key), data) == {needed: REQUIRED}
    if is_text(load(key)["properties"][needed]):
        data[needed] = ""
        assert validate_submission(load(key), data) == {needed: REQUIRED}


@pytest.mark.parametrize(("key", "trigger", "value", "others", "needed"), CONDITIONS)
def test_conditional_field_is_optional_otherwise(key, trigger, value, others, needed):
    for other in others:
        data = changed(key, (trigger,), other)
        for rule in conditionals(load(key)):  # drop every conditional field
            for name in rule["then"]["required"]:
                data.pop(name, None)
        assert validate_submission(load(key), data) == {}, other


def test_screening_examples_both_ways():
    schema = load("screening")
    assert validate_submission(schema, {"screening_decision": "decline"}) == {
        "decline_reason": REQUIRED
    }
    assert validate_submission(schema, {"screening_decision": "accept"}) == {}
    asking = {"screening_decision": "more_information", "information_needed": "Dad's details"}
    assert validate_submission(schema, asking) == {}
    assert validate_submission(schema, {}) == {"screening_decision": REQUIRED}


# --- robustness ---------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


# No example database: it would litter the repository with a .hypothesis folder.
@pytest.mark.parametrize("key", FORM_KEYS)
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_changes_to_an_example_never_raise(key, data):
    schema = load(key)
    submission = copy.deepcopy(EXAMPLES[key])
    names = sorted(set(schema["properties"]) | set(submission))
    for name, delete, value in data.draw(
        st.lists(st.tuples(st.sampled_from(names), st.booleans(), _JSON), max_size=5)
    ):
        if delete:
            submission.pop(name, None)
        else:
            submission[name] = value
    errors = validate_submission(schema, submission)
    assert isinstance(errors, dict)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in errors.items())


def test_messages_never_repeat_what_was_typed():
    schema = json.loads((FORMS / "referral.json").read_text())
    secret = "Disclosed: mother's mental health history " * 200
    data = dict(EXAMPLES["referral"], why_now=secret, referrer_phone="call me on Tuesday")
    errors = validate_submission(schema, data)
    assert set(errors) == {"why_now", "referrer_phone"}
    assert all("Disclosed" not in m and "Tuesday" not in m for m in errors.values())
    assert errors["why_now"] == "At most 5000 characters."


def test_choices_and_ticks_are_explained_in_words():
    schema = json.loads((FORMS / "referral.json").read_text())
    errors = validate_submission(
        schema, dict(EXAMPLES["referral"], urgency="asap", consent_given=False)
    )
    assert errors["consent_given"] == "This must be ticked."
    assert "Urgent" in errors["urgency"] or "urgent" in errors["urgency"]
    assert "routine" not in errors["urgency"].split(": ")[1].split(", ")


def test_a_form_nested_beyond_reading_is_refused_with_a_reason_not_a_crash():
    from engine.forms import parse_form

    schema, problems = parse_form("[" * 50_000)
    assert schema is None
    assert problems == ["is nested too deeply to read (a form needs only a few levels)"]


@pytest.mark.parametrize(
    ("schema", "where", "why"),
    [
        ({"type": "object", "properties": {"a": True}}, "properties/a", "'a' must be described"),
        ({"type": "object", "x-order": 7, "properties": {}}, "the top level", "x-order"),
        (
            {"type": "object", "properties": {"a": {"enum": ["x"], "x-labels": ["X"]}}},
            "properties/a",
            "x-labels",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "x-help": 3}}},
            "properties/a",
            "x-help must be text",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "kids": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"pets": {"type": "array", "minItems": 51}},
                        },
                    }
                },
            },
            "properties/kids/items/properties/pets",
            "minItems 51",
        ),
    ],
)
def test_a_form_the_task_page_cannot_show_is_refused_at_deploy(schema, where, why):
    [problem] = schema_problems(schema)
    assert f"cannot be shown at {where}: " in problem and why in problem


def test_fifty_entries_up_front_are_still_allowed():
    schema = {"type": "object", "properties": {"a": {"type": "array", "minItems": 50}}}
    assert schema_problems(schema) == []
