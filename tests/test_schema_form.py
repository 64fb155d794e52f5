"""Task forms drawn from their JSON Schemas (webapp/schema_form.py), and their posts read back
(webapp/form_post.py).

No database and no Flask app: the macros render in a bare Jinja environment that escapes as
Flask's does, and each page is posted back the way a browser would post it (ticked boxes only,
the button that was pressed, nothing else). The family below is made up.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from lxml.html import HtmlElement
from werkzeug.datastructures import MultiDict

from engine.forms import validate_submission
from tests.test_forms import EXAMPLES
from webapp.form_post import ACTION, FormAction, apply_action, parse_draft, parse_submission
from webapp.schema_form import build_fields, error_summary

REPO = Path(__file__).resolve().parents[1]
FORM_KEYS = sorted(path.stem for path in (REPO / "forms").glob("*.json"))
ENV = Environment(
    loader=FileSystemLoader(REPO / "webapp" / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
PAGE = ENV.from_string(
    '{% from "macros/form.html" import render_fields, render_error_summary, default_button %}'
    '<form method="post" novalidate>{{ default_button("Submit") }}'
    "{{ render_error_summary(links) }}{{ render_fields(fields) }}"
    '<button type="submit">Submit</button></form>'
)
CONTROLS = "//input[not(@type='hidden')] | //select | //textarea"

PERSON_1 = {
    "name": "Leo Ashdown",
    "date_of_birth": "2017-09-14",
    "is_child": True,
    "gender": "male",
    "interpreter_needed": False,
    "disability": "Asthma; uses an inhaler at school",
    "relationship_to_child": "The child",
    "parental_responsibility": False,
}
PERSON_2 = {
    "name": "Kerry Ashdown",
    "date_of_birth": "1996-03-08",
    "is_child": False,
    "gender": "female",
    "first_language": "Polish",
    "interpreter_needed": True,
    "relationship_to_child": "Mother",
    "parental_responsibility": True,
    "phone": "07700 900123",
    "email": "kerry.ashdown@example.com",
    "postcode": "LU1 2AB",
}
PERSON_3 = {
    "name": "Nan Ashdown",
    "is_child": False,
    "interpreter_needed": False,
    "relationship_to_child": "Grandmother",
    "parental_responsibility": False,
}
REFERRAL = {
    "referrer_name": "Priya Lane",
    "referrer_organisation": "Northvale Family Help Team East",
    "referrer_phone": "01632 960123",
    "referrer_email": "priya.lane@northvale.example.org",
    "family_name": "Ashdown",
    "people": [PERSON_1, PERSON_2],
    "child_status": "pre_proceedings",
    "referral_type": "pre_proceedings",
    "urgency": "urgent",
    "why_now": "Leo has missed 30% of school.\nKerry cannot manage mornings & says <so>.",
    "what_needs_to_change": "Leo gets to school every day.",
    "problems": ["school_attendance", "health"],
    "headline_outcomes": ["education", "substance_use", "family_relationships"],
    "consent_given": True,
    "consent_given_by": "Kerry Ashdown",
    "plo_offer_date": "2026-02-20",
    "plo_offer_accepted": True,
}


# --- helpers -----------------------------------------------------------------------------------


def schema_of(key: str) -> dict[str, Any]:
    return json.loads((REPO / "forms" / f"{key}.json").read_text())


def render(
    schema: dict[str, Any], values: Any = None, errors: dict[str, str] | None = None
) -> HtmlElement:
    fields = build_fields(schema, values, errors)
    html = PAGE.render(fields=fields, links=error_summary(fields, errors or {}))
    return lxml.html.fromstring(html)


def browser_post(page: HtmlElement, click: str | None = None) -> MultiDict:
    """What a browser sends: every named control, ticked boxes only, the pressed button."""
    pairs: list[tuple[str, str]] = []
    for el in page.iter("input", "select", "textarea", "button"):
        name, kind = el.get("name"), (el.get("type") or "text").lower()
        if not name:
            continue
        if el.tag == "button":
            if el.get("value") == click:
                pairs.append((name, click))
        elif el.tag == "textarea":
            # HTML drops one newline straight after <textarea>; lxml keeps it.
            pairs.append((name, (el.text or "").removeprefix("\n")))
        elif el.tag == "select":
            options = el.findall("option")
            chosen = [o for o in options if o.get("selected") is not None] or options[:1]
            pairs.append((name, chosen[0].get("value")))
        elif kind in ("checkbox", "radio"):
            if el.get("checked") is not None:
                pairs.append((name, el.get("value", "on")))
        else:
            pairs.append((name, el.get("value", "")))
    assert click is None or (ACTION, click) in pairs, f"no button {click!r} on the page"
    return MultiDict(pairs)


def submit(
    schema: dict[str, Any], page: HtmlElement, click: str | None = None
) -> tuple[dict[str, Any], FormAction | None]:
    return parse_submission(schema, browser_post(page, click))


def control(page: HtmlElement, name: str) -> HtmlElement:
    found = page.xpath(f"({CONTROLS})[@name=$name]", name=name)
    assert found, f"no control named {name}"
    return found[0]


def by_id(page: HtmlElement, id_: str) -> HtmlElement:
    found = page.xpath("//*[@id=$id]", id=id_)
    assert len(found) == 1, f"{len(found)} elements with id {id_}"
    return found[0]


def choice_group(el: HtmlElement) -> HtmlElement | None:
    """The fieldset that names a radio or tick-box group, if `el` is one of its choices."""
    kinds = "contains(@class, 'field-radio') or contains(@class, 'field-checkboxes')"
    group = el.xpath(f"ancestor::fieldset[1][{kinds}]")
    return group[0] if group else None


def label_of(page: HtmlElement, name: str) -> str:
    """The words a screen reader announces for a field: its label, or its group's legend."""
    found = page.xpath(f"({CONTROLS})[@name=$name]", name=name)
    if not found:  # a repeating group has no control of its own
        group = by_id(page, "f-" + name.replace(".", "-"))
        return group.find("legend").text_content()
    group = choice_group(found[0])
    return (
        group.find("legend").text_content() if group is not None else found[0].label.text_content()
    )


def pressed(post: MultiDict, value: str) -> MultiDict:
    """`post` as if the button with this __action value had been pressed."""
    post = post.copy()
    post.setlist(ACTION, [value])
    return post


def described_texts(page: HtmlElement, el: HtmlElement) -> str:
    """The text of everything the field (or its group) is described by."""
    owner = el if el.get("aria-describedby") else el.xpath("ancestor::fieldset[1]")[0]
    ids = (owner.get("aria-describedby") or "").split()
    return " ".join(by_id(page, i).text_content() for i in ids)


def people_values(page: HtmlElement, index: int) -> dict[str, str]:
    prefix = f"people.{index}."
    posted = browser_post(page)
    return {k[len(prefix) :]: v for k, v in posted.items(multi=True) if k.startswith(prefix)}


def with_unticked_boxes(schema: dict[str, Any], data: Any) -> Any:
    """`data` as a round trip returns it: a tick box that was shown and left empty is False."""
    if not isinstance(data, dict):
        return data
    result = dict(data)
    required = set(schema.get("required") or [])
    for key, prop in (schema.get("properties") or {}).items():
        is_box = prop.get("type") == "boolean" and (
            key not in required or prop.get("const") is True
        )
        if is_box and key not in result:
            result[key] = False
        if prop.get("type") == "array" and isinstance(result.get(key), list):
            result[key] = [with_unticked_boxes(prop["items"], v) for v in result[key]]
    return result


# --- every shipped form ------------------------------------------------------------------------


def test_all_23_shipped_forms_are_checked() -> None:
    assert len(FORM_KEYS) == 23
    assert set(EXAMPLES) == set(FORM_KEYS)


@pytest.mark.parametrize("key", FORM_KEYS)
@pytest.mark.parametrize("filled", [False, True], ids=["empty", "filled"])
def test_every_input_on_every_form_has_a_label(key: str, filled: bool) -> None:
    page = render(schema_of(key), EXAMPLES[key] if filled else None)
    ids = [el.get("id") for el in page.xpath("//*[@id]")]
    assert len(ids) == len(set(ids)), "ids must be unique for labels to work"
    controls = page.xpath(CONTROLS)
    assert controls
    for el in controls:
        labels = page.xpath("//label[@for=$id]", id=el.get("id"))
        assert len(labels) == 1 and labels[0].text_content().strip(), el.get("name")
        group = choice_group(el)
        if el.get("type") == "radio":
            assert group is not None, f"radio {el.get('name')} outside a fieldset"
        if group is not None:
            assert group.find("legend").text_content().strip()
    for el in page.xpath("//*[@aria-describedby]"):
        for target in el.get("aria-describedby").split():
            assert by_id(page, target).text_content().strip()


@pytest.mark.parametrize("key", FORM_KEYS)
def test_required_fields_are_marked_in_words(key: str) -> None:
    schema = schema_of(key)
    page = render(schema, EXAMPLES[key])
    levels = [("", schema)] + [
        (f"{name}.0.", prop["items"])
        for name, prop in schema["properties"].items()
        if prop["type"] == "array"
        and prop["items"].get("type") == "object"
        and EXAMPLES[key].get(name)
    ]
    for prefix, level in levels:
        for name in level["properties"]:
            marked = "(required)" in label_of(page, prefix + name)
            assert marked == (name in level["required"]), prefix + name


@pytest.mark.parametrize("key", FORM_KEYS)
def test_every_shipped_form_comes_back_as_it_was_filled_in(key: str) -> None:
    schema = schema_of(key)
    data, action = submit(schema, render(schema, EXAMPLES[key]))
    assert action is None
    assert data == with_unticked_boxes(schema, EXAMPLES[key])
    assert validate_submission(schema, data) == {}


# --- the referral, end to end ------------------------------------------------------------------


def test_referral_round_trip_returns_the_same_data_and_validates() -> None:
    schema = schema_of("referral")
    data, action = submit(schema, render(schema, REFERRAL))
    assert action is None
    assert data == REFERRAL
    assert validate_submission(schema, data) == {}


def test_errors_appear_beside_the_field_they_are_about() -> None:
    schema = schema_of("referral")
    broken = copy.deepcopy(REFERRAL)
    del broken["people"][1]["name"]
    broken["referrer_email"] = "priya at northvale"
    broken["consent_given"] = False
    del broken["why_now"], broken["urgency"], broken["problems"]
    errors = validate_submission(schema, broken)
    assert set(errors) == {
        "people.1.name",
        "referrer_email",
        "consent_given",
        "why_now",
        "urgency",
        "problems",
    }
    page = render(schema, broken, errors | {"(form)": "Reload the form and try again."})

    for name, message in errors.items():
        el = control(page, name)
        assert el.get("aria-invalid") == "true", name
        assert message in described_texts(page, el), name
        field = el.xpath("ancestor::*[contains(@class, 'field-error')][1]")[0]
        assert message in field.text_content()
    invalid = {el.get("name") for el in page.xpath("//*[@aria-invalid='true']")}
    assert invalid == set(errors)
    summary = page.xpath("//div[@class='error-summary']")[0].text_content()
    assert "Reload the form and try again." in summary
    for href in page.xpath("//div[@class='error-summary']//a/@href"):
        by_id(page, href.removeprefix("#"))


def test_a_repeating_group_error_shows_on_the_group() -> None:
    schema = schema_of("conference_record")
    errors = {"attendees": "Add at least 1."}
    page = render(schema, {}, errors)
    group = by_id(page, "f-attendees")
    assert "Add at least 1." in group.text_content()
    assert "Add at least 1." in described_texts(page, group)


# --- adding and removing entries without JavaScript --------------------------------------------


def test_adding_a_person_keeps_everything_typed_so_far() -> None:
    schema = schema_of("referral")
    typed = copy.deepcopy(REFERRAL)
    typed["people"][1]["email"] = "kerry at example"  # not valid yet, but the worker typed it
    page = render(schema, typed)
    before = [people_values(page, 0), people_values(page, 1)]

    data, action = submit(schema, page, click="add:people")
    assert action is not None and action.kind == "add"
    page = render(schema, apply_action(data, action))

    legends = page.xpath("//fieldset[@id='f-people']/fieldset/legend/text()")
    assert legends == ["Person 1", "Person 2", "Person 3"]
    assert [people_values(page, 0), people_values(page, 1)] == before
    assert control(page, "people.2.name").get("value") == ""
    assert page.xpath("//button[@value='remove:people.2']/text()") == ["Remove person 3"]


def test_adding_twice_gives_two_new_entries() -> None:
    schema = schema_of("referral")
    page = render(schema, REFERRAL)
    for _ in range(2):
        data, action = submit(schema, page, click="add:people")
        page = render(schema, apply_action(data, action))
    assert len(page.xpath("//fieldset[@id='f-people']/fieldset")) == 4


def test_removing_a_person_keeps_the_other_people_as_typed() -> None:
    schema = schema_of("referral")
    page = render(schema, REFERRAL | {"people": [PERSON_1, PERSON_2, PERSON_3]})
    third = people_values(page, 2)

    data, action = submit(schema, page, click="remove:people.1")
    assert action == FormAction("remove", ("people",), 1, 1, None, grouped=True)
    assert data["people"] == [PERSON_1, PERSON_2, PERSON_3]  # the button alone removes nothing
    page = render(schema, apply_action(data, action))

    assert people_values(page, 1) == third
    assert page.xpath("//fieldset[@id='f-people']/fieldset/legend/text()") == [
        "Person 1",
        "Person 2",
    ]
    data, action = submit(schema, page)
    assert action is None and data["people"] == [PERSON_1, PERSON_3]


def test_entries_are_read_in_number_order_with_gaps_closed() -> None:
    schema = schema_of("referral")
    post = MultiDict(
        [("people.10.name", "Third"), ("people.2.name", "Second"), ("people.0.name", "First")]
    )
    data, _ = parse_submission(schema, post)
    assert [p["name"] for p in data["people"]] == ["First", "Second", "Third"]
    data, action = parse_submission(schema, pressed(post, "add:people"))
    assert [p.get("name") for p in apply_action(data, action)["people"]] == [
        "First",
        "Second",
        "Third",
        None,
    ]


def test_an_entry_with_nothing_chosen_yet_survives_adding_another() -> None:
    status = {"type": "string", "enum": ["done", "behind"], "x-widget": "radio"}
    schema = {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": {"type": "object", "properties": {"s": status}}}
        },
    }
    page = render(schema, {"rows": [{"s": "done"}, {}]})
    data, action = submit(schema, page, click="add:rows")
    assert apply_action(data, action) == {"rows": [{"s": "done"}, {}, {}]}


def test_the_last_required_entry_cannot_be_removed() -> None:
    schema = schema_of("referral")
    page = render(schema, REFERRAL | {"people": [PERSON_1]})
    assert not page.xpath("//button[starts-with(@value, 'remove:people')]")
    data, action = parse_submission(schema, pressed(browser_post(page), "remove:people.0"))
    assert apply_action(data, action)["people"] == [PERSON_1]


def test_entries_stay_within_max_items() -> None:
    schema = {
        "type": "object",
        "properties": {
            "contacts": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        },
    }
    page = render(schema, {"contacts": ["Nan", "Tasha"]})
    assert not page.xpath("//button[@value='add:contacts']")
    assert [control(page, f"contacts.{i}").get("value") for i in (0, 1)] == ["Nan", "Tasha"]
    assert control(page, "contacts.1").label.text_content() == "Contact 2"
    data, action = parse_submission(schema, pressed(browser_post(page), "add:contacts"))
    assert apply_action(data, action) == {"contacts": ["Nan", "Tasha"]}


def test_a_button_the_form_does_not_have_only_shows_the_form_again() -> None:
    schema = schema_of("referral")
    for bogus in ("add:problems", "remove:referrer_name.0", "add:people.0.name", "add:nothing"):
        data, action = parse_submission(schema, {ACTION: [bogus], "family_name": ["Ashdown"]})
        assert action == FormAction("refresh"), bogus
        assert apply_action(data, action) == {"family_name": "Ashdown"}
    assert parse_submission(schema, {ACTION: ["complete"]})[1] is None


def test_empty_groups_offer_a_first_entry_only_when_one_is_needed() -> None:
    page = render(schema_of("conference_record"))
    assert page.xpath("//fieldset[@id='f-actions']/fieldset/legend/text()") == ["Action 1"]
    assert not page.xpath("//button[starts-with(@value, 'remove:')]")
    assert control(page, "attendees.0").label.text_content() == "Attendee 1"

    page = render(schema_of("network_preparation"))
    assert page.xpath("//fieldset[@id='f-network']/fieldset/legend/text()") == ["Entry 1"]

    page = render(schema_of("support_request"))
    assert not page.xpath("//fieldset[@id='f-items']/fieldset")
    assert page.xpath("//button[@value='add:items']/text()") == ["Add an item"]


def test_blank_entries_are_dropped_when_the_form_is_submitted() -> None:
    schema = schema_of("conference_record")
    page = render(schema, {"attendees": ["Kerry", "", "Nan"], "actions": [{}, {}]})
    data, _ = submit(schema, page)
    assert data["attendees"] == ["Kerry", "Nan"]
    assert "actions" not in data
    assert validate_submission(schema, data)["actions"] == "This field is required."


# --- values of the right types, nothing lost ---------------------------------------------------


def test_a_number_that_does_not_parse_is_kept_and_reported() -> None:
    schema = schema_of("support_request")
    item = {"description": "Sofa bed", "category": "furniture", "beneficiary": "Nan"}
    post = MultiDict(
        [("support_needed", "true"), ("support_total", "£1,200.50"), ("items.0.cost", "twelve")]
        + [(f"items.0.{k}", v) for k, v in item.items()]
    )
    data, _ = parse_submission(schema, post)
    assert data["support_total"] == 1200.5
    assert data["items"] == [item | {"cost": "twelve"}]
    errors = validate_submission(schema, data)
    assert errors == {"items.0.cost": "Expected a number."}

    page = render(schema, data, errors)
    cost = control(page, "items.0.cost")
    assert cost.get("value") == "twelve"
    assert cost.get("aria-invalid") == "true"
    assert "Expected a number." in described_texts(page, cost)
    assert "twelve" not in page.xpath("//div[@class='error-summary']")[0].text_content()
    assert parse_submission(schema, browser_post(page))[0] == data


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [("3", 3), ("3.0", 3), (" 1,250 ", 1250), ("3.5", 3.5), ("1,5", "1,5"), ("1e999", "1e999")],
)
def test_whole_numbers_are_read_without_guessing(typed: str, parsed: Any) -> None:
    schema = {"type": "object", "properties": {"children": {"type": "integer"}}}
    data, _ = parse_submission(schema, {"children": [typed]})
    assert data == {"children": parsed}
    assert type(data["children"]) is type(parsed)


def test_ticked_boxes_come_back_in_the_order_the_form_lists_them() -> None:
    schema = schema_of("referral")
    post = MultiDict([("problems", "health"), ("problems", "crime_asb"), ("problems", "health")])
    post.add("problems", "school_attendance")
    data, _ = parse_submission(schema, post)
    assert data["problems"] == ["crime_asb", "school_attendance", "health"]

    page = render(schema, data)
    ticked = page.xpath("//input[@name='problems'][@checked]/@value")
    assert ticked == ["crime_asb", "school_attendance", "health"]


def test_an_unticked_box_is_false_only_when_the_form_showed_it() -> None:
    schema = schema_of("referral")
    page = render(schema, REFERRAL | {"consent_given": False, "plo_offer_accepted": False})
    data, _ = submit(schema, page)
    assert data["consent_given"] is False
    assert data["plo_offer_accepted"] is False
    assert data["people"][0]["interpreter_needed"] is False
    assert validate_submission(schema, data) == {"consent_given": "This must be ticked."}

    posted = browser_post(page)
    posted.poplist("__present__")
    data, _ = parse_submission(schema, posted)
    assert "consent_given" not in data and "plo_offer_accepted" not in data
    assert "interpreter_needed" not in data["people"][0]
    assert data["problems"] == ["school_attendance", "health"]


def test_no_boxes_ticked_in_a_shown_group_is_an_empty_list() -> None:
    schema = schema_of("allocation")
    data, _ = submit(schema, render(schema, {"coordinator": "sokafor"}))
    assert data == {"coordinator": "sokafor", "matching_preferences": []}
    assert "matching_preferences" not in parse_submission(schema, {"coordinator": ["x"]})[0]


def test_an_unanswered_yes_no_question_is_reported_missing() -> None:
    schema = schema_of("referral")
    person = {k: v for k, v in PERSON_1.items() if k != "is_child"}
    page = render(schema, REFERRAL | {"people": [person]})
    assert [o.label.text_content() for o in page.xpath("//input[@name='people.0.is_child']")] == [
        "Yes",
        "No",
    ]
    data, _ = submit(schema, page)
    assert "is_child" not in data["people"][0]
    assert validate_submission(schema, data) == {"people.0.is_child": "This field is required."}


def test_blank_text_is_absent_and_typed_text_is_tidied() -> None:
    schema = schema_of("referral")
    post = {
        "referrer_name": ["   "],
        "family_name": ["  Ashdown "],
        "why_now": ["First line\r\nSecond line\r\n"],
    }
    data, _ = parse_submission(schema, post)
    assert data == {"family_name": "Ashdown", "why_now": "First line\nSecond line"}


def test_choices_that_are_not_text_come_back_as_their_own_type() -> None:
    size = {"type": "integer", "enum": [1, 2, 3], "x-widget": "radio"}
    schema = {"type": "object", "properties": {"size": size}}
    page = render(schema, {"size": 2})
    assert page.xpath("//input[@name='size'][@checked]/@value") == ["2"]
    assert submit(schema, page)[0] == {"size": 2}


def test_an_enum_without_a_widget_is_a_select_that_keeps_its_value() -> None:
    schema = schema_of("support_request")
    item = {"description": "Bus fares", "category": "transport", "cost": 20, "beneficiary": "Nan"}
    page = render(schema, {"support_needed": True, "items": [item]})
    select = control(page, "items.0.category")
    assert select.tag == "select"
    assert select.findall("option")[0].get("value") == ""
    assert select.xpath("option[@selected]/@value") == ["transport"]


def test_conditionally_required_fields_keep_their_hint_but_are_not_marked() -> None:
    page = render(schema_of("review"))
    assert "(required)" not in label_of(page, "next_review_date")
    field = control(page, "next_review_date")
    assert "Needed when another review is needed." in described_texts(page, field)
    assert "(required)" in label_of(page, "another_review")


def test_pre_filled_dates_and_numbers_show_as_typed() -> None:
    page = render(schema_of("support_request"), {"support_total": 120.0, "items": [{"cost": 9.5}]})
    assert control(page, "support_total").get("value") == "120"
    assert control(page, "items.0.cost").get("value") == "9.5"
    page = render(schema_of("acknowledgement"), {"acknowledged_on": date(2026, 3, 3)})
    assert control(page, "acknowledged_on").get("value") == "2026-03-03"


def test_typed_text_and_schema_text_are_escaped() -> None:
    schema = {
        "type": "object",
        "properties": {
            "note": {"type": "string", "title": "<b>Note</b>", "x-widget": "textarea"},
            "name": {"type": "string", "x-help": "<i>as known</i>"},
        },
    }
    typed = {"note": '</textarea><script>alert("x")</script>', "name": '"><script>x</script>'}
    page = render(schema, typed)
    assert not page.xpath("//script | //b | //i")
    assert control(page, "note").text == "\n" + typed["note"]
    assert control(page, "name").get("value") == typed["name"]
    assert label_of(page, "note") == "<b>Note</b>"
    assert parse_submission(schema, browser_post(page))[0] == typed


def test_pressing_enter_submits_rather_than_adding_or_removing() -> None:
    page = render(schema_of("referral"), REFERRAL)
    first = page.xpath("//button[@type='submit']")[0]
    assert first.get("name") is None


def test_a_read_only_form_shows_every_answer_but_offers_nothing_to_change() -> None:
    schema = schema_of("referral")
    fields = build_fields(schema, REFERRAL, readonly=True)
    page = lxml.html.fromstring(PAGE.render(fields=fields, links=[]))
    typed = page.xpath("//input[@type='text' or @type='date' or @type='email'] | //textarea")
    assert typed and all(el.get("readonly") is not None for el in typed)
    choices = page.xpath("//input[@type='radio' or @type='checkbox'] | //select")
    assert choices and all(el.get("disabled") is not None for el in choices)
    assert not page.xpath("//button[@name='__action']")
    assert control(page, "people.0.name").get("value") == PERSON_1["name"]
    assert parse_submission(schema, browser_post(page))[0]["why_now"] == REFERRAL["why_now"]


def test_a_draft_keeps_an_entry_added_but_not_yet_filled_in() -> None:
    schema = schema_of("referral")
    data, action = submit(schema, render(schema, REFERRAL), click="add:people")
    page = render(schema, apply_action(data, action))
    draft = parse_draft(schema, browser_post(page))
    assert len(draft["people"]) == 3 and draft["people"][:2] == [PERSON_1, PERSON_2]
    assert len(parse_submission(schema, browser_post(page))[0]["people"]) == 2


def test_a_nul_character_in_a_post_is_dropped() -> None:
    data, _ = parse_submission(schema_of("screening"), {"screening_note": "Seen\x00 today"})
    assert data == {"screening_note": "Seen today"}
