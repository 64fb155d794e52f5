"""Writers for the first stages: referral, screening, allocation, assessment, network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from engine.models import Case
from engine.record.models import NetworkMember, Person, Referral
from engine.record.submission import Submission, count_words, parse_date, writes


@writes("referral")
def _referral(s: Submission) -> str:
    d = s.data
    problems = list(d.get("problems", []))
    s.session.add(
        Referral(
            case_id=s.case_id,
            family_name=d["family_name"],
            referrer_name=d["referrer_name"],
            referrer_organisation=d.get("referrer_organisation"),
            referrer_phone=d.get("referrer_phone"),
            referrer_email=d.get("referrer_email"),
            referred_by=s.actor,
            received_at=s.at,
            child_status=d.get("child_status"),
            referral_type=d.get("referral_type", "standard"),
            urgency=d.get("urgency", "routine"),
            why_now=d.get("why_now", ""),
            what_needs_to_change=d.get("what_needs_to_change"),
            problems=problems,
            headline_outcomes=list(d.get("headline_outcomes", [])),
            consent_given=bool(d.get("consent_given")),
            consent_given_by=d.get("consent_given_by"),
            plo_offer_date=parse_date(d.get("plo_offer_date")),
            plo_offer_accepted=d.get("plo_offer_accepted"),
            eligible=s.context.get("eligible"),
            eligibility_reason=s.context.get("eligibility_reason"),
        )
    )
    for person in d.get("people", []):
        s.session.add(_person(s.case_id, person))
    case = s.session.get(Case, s.case_id)
    case.title = f"{d['family_name']} family"
    people = len(d.get("people", []))
    return (
        f"Referral from {d['referrer_name']} ({d.get('referrer_organisation') or 'no agency'}) "
        f"for the {d['family_name']} family: {count_words(people)} "
        f"{'person' if people == 1 else 'people'}, {s.label('urgency', d.get('urgency'))}, "
        f"{s.label('referral_type', d.get('referral_type'))}."
    )


def _person(case_id: int, p: Mapping[str, Any]) -> Person:
    return Person(
        case_id=case_id,
        name=p["name"],
        is_child=bool(p.get("is_child")),
        date_of_birth=parse_date(p.get("date_of_birth")),
        due_date=parse_date(p.get("due_date")),
        gender=p.get("gender"),
        ethnicity=p.get("ethnicity"),
        first_language=p.get("first_language"),
        interpreter_needed=p.get("interpreter_needed"),
        religion=p.get("religion"),
        disability=p.get("disability"),
        relationship_to_child=p.get("relationship_to_child"),
        parental_responsibility=bool(p.get("parental_responsibility")),
        phone=p.get("phone"),
        email=p.get("email"),
        postcode=p.get("postcode"),
    )


@writes("screening")
def _screening(s: Submission) -> str:
    decision = s.data["screening_decision"]
    referral = s.referral()
    if referral is not None:
        referral.screening_decision = decision
        referral.decline_reason = s.data.get("decline_reason")
        referral.screened_by = s.actor
        referral.screened_at = s.at
    reason = s.context.get("eligibility_reason")
    if decision == "accept":
        return f"Referral accepted by {s.actor}" + (f": {reason}." if reason else ".")
    if decision == "decline":
        why = s.label("decline_reason", s.data.get("decline_reason", "other"))
        return f"Referral declined by {s.actor}: {why}."
    return f"{s.actor} asked the referrer for more information: {s.data.get('information_needed')}"


@writes("allocation")
def _allocation(s: Submission) -> str:
    referral = s.referral()
    if referral is not None:
        referral.coordinator = s.data["coordinator"]
        referral.allocated_at = s.at
    prefs = s.data.get("matching_preferences") or []
    matched = f", matched on {s.labels('matching_preferences', prefs)}" if prefs else ""
    return f"{s.data['coordinator']} allocated as coordinator by {s.actor}{matched}."


@writes("family_assessment")
def _assessment(s: Submission) -> str:
    people = {
        p.name: p for p in s.session.scalars(select(Person).where(Person.case_id == s.case_id))
    }
    for member in s.data.get("members", []):
        person = people.get(member["name"])
        if person is not None:
            person.needs = member.get("needs")
            person.strengths = member.get("strengths")
    return f"Whole-family assessment recorded by {s.actor} for {len(s.data['members'])} people."


@writes("network_preparation")
def _network(s: Submission) -> str:
    s.session.execute(delete(NetworkMember).where(NetworkMember.case_id == s.case_id))
    members = s.data.get("network", [])
    for m in members:
        s.session.add(
            NetworkMember(
                case_id=s.case_id,
                name=m["name"],
                relationship=m["relationship"],
                contact_made=bool(m.get("contact_made")),
                contact_method=m.get("contact_method"),
                attendance=m.get("attendance"),
                needs_advocate=m.get("needs_advocate"),
                needs_interpreter=m.get("needs_interpreter"),
                language=m.get("language"),
            )
        )
    if not s.data.get("has_network"):
        return f"{s.actor} found no family network; the family will be linked to a Family Hub."
    contacted = sum(1 for m in members if m.get("contact_made"))
    taking_part = sum(1 for m in members if m.get("attendance") != "not_taking_part")
    return (
        f"Network prepared by {s.actor}: {len(members)} named, {contacted} contacted, "
        f"{taking_part} taking part."
    )
