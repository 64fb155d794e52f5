"""The twelve-month follow-up: where each child lives a year after closure, and whether care
proceedings were issued (what the national FGC trial measured; docs/pathway.md).

One ``ChildFollowUp`` row per child named on the form, tied to the child's ``Person`` row when
the name matches one of the family's children, so a report can count children, not families.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.record.models import ChildFollowUp, Person
from engine.record.submission import Submission, parse_date, writes

MONTHS_AFTER_CLOSURE = 12


def _name_key(name: str) -> str:
    """Names as a worker may retype them: spacing and capitals do not matter."""
    return " ".join(name.split()).casefold()


def _children_by_name(s: Submission) -> dict[str, list[int]]:
    """The family's children's person ids by name (a list, in case two share a name)."""
    query = (
        select(Person.id, Person.name)
        .where(Person.case_id == s.case_id, Person.is_child.is_(True))
        .order_by(Person.id)
    )
    found: dict[str, list[int]] = {}
    for person_id, name in s.session.execute(query):
        found.setdefault(_name_key(name), []).append(person_id)
    return found


@writes("twelve_month_follow_up")
def _twelve_month_follow_up(s: Submission) -> str:
    on = parse_date(s.data["followed_up_on"])
    children = _children_by_name(s)
    rows = []
    for child in s.data["children"]:
        name = " ".join(str(child["child_name"]).split())
        ids = children.get(_name_key(name), [])
        rows.append(
            ChildFollowUp(
                case_id=s.case_id,
                # Each person once: a second child of the same name takes the next match.
                person_id=ids.pop(0) if ids else None,
                child_name=name,
                months_after_closure=MONTHS_AFTER_CLOSURE,
                living=child["living"],
                proceedings_issued=bool(child["proceedings_issued"]),
                note=child.get("note") or None,
                recorded_on=on,
                recorded_by=s.actor,
            )
        )
    s.session.add_all(rows)
    return follow_up_sentence(rows)


def follow_up_sentence(rows: list[ChildFollowUp]) -> str:
    """The chronology's line: how many children live with their parents, and proceedings."""
    total = len(rows)
    at_home = sum(1 for r in rows if r.living == "parents")
    issued = sum(1 for r in rows if r.proceedings_issued)
    children = "child" if total == 1 else "children"
    proceedings = "none" if issued == 0 else f"{issued} of {total}"
    return (
        f"Twelve-month follow-up: {at_home} of {total} {children} living with parents; "
        f"care proceedings issued for {proceedings}."
    )
