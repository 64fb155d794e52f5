"""A small, fictional set of referrals for the reports' tests, written straight into the record.

The clock is the ``frozen_clock`` fixture's Monday 2 March 2026, so the default period is
3 March 2025 to 2 March 2026. Central FGC (Morgan Manager's team):

- Ashdown: received 10 Jan 2026, accepted 12 Jan, Casey allocated 14 Jan (4 days); a support
  package of £1,234.50 requested 1 Feb.
- Birch: received 20 Jan 2026, declined 21 Jan (no consent).
- Cole: received 5 Feb 2026, a pre-proceedings referral, not screened yet; coordinator Zed,
  whose name is written to trip up CSV files and SVG (comma, quotes, line break, leading =).
- Dunmore: received 1 Feb 2025 and accepted 3 Feb 2025, before the default period.

North FGC (Mel Manager's team): Northcott (received 15 Jan 2026, accepted 16 Jan) and Nye
(received 16 Jan, accepted 17 Jan).

So, by hand, for the default period: Central received 3, accepted 1, declined 1; North 2, 2, 0;
every team 5, 3, 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask

from engine.accounts import User, find_user
from engine.deploy import latest_version
from engine.models import Case
from engine.record.models import Referral, SupportPackage
from engine.reports.tables import measure_keys
from tests.web import OTHER_TEAM, TEAM, team_id

TRICKY_NAME = '=Zed, "the boss"\nCoordinator'
CENTRAL = {"received": 3, "accepted": 1, "declined": 1}
NORTH = {"received": 2, "accepted": 2, "declined": 0}
EVERY_TEAM = {"received": 5, "accepted": 3, "declined": 1}
ROWS = {"received": "Received", "accepted": "Accepted", "declined": "Declined"}


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def measure_exists(key: str) -> None:
    """Fail loudly (never skip) when a measure these tests rely on is not registered."""
    assert key in measure_keys(), f"the {key!r} measure is not registered: {measure_keys()}"


def seed(app: Flask) -> dict[str, int]:
    """The families above; returns their case ids by family name."""
    from webapp.extensions import db

    central, north = team_id(app, TEAM), team_id(app, OTHER_TEAM)
    families = (
        # family, team, received, screened, decision, reason, coordinator, allocated, type
        ("Ashdown", central, "2026-01-10", "2026-01-12", "accept", None, "casey.coordinator",
         "2026-01-14", "standard"),
        ("Birch", central, "2026-01-20", "2026-01-21", "decline", "no_consent", None, None,
         "standard"),
        ("Cole", central, "2026-02-05", None, None, None, "zed.coordinator", None,
         "pre_proceedings"),
        ("Dunmore", central, "2025-02-01", "2025-02-03", "accept", None, None, None, "standard"),
        ("Northcott", north, "2026-01-15", "2026-01-16", "accept", None, None, None, "standard"),
        ("Nye", north, "2026-01-16", "2026-01-17", "accept", None, None, None, "standard"),
    )  # fmt: skip
    with app.app_context():
        session = db.session()
        manager = find_user(session, "morgan.manager")
        session.add(
            User(
                username="zed.coordinator",
                display_name=TRICKY_NAME,
                roles=["coordinator"],
                team_id=central,
                active=True,
                failed_logins=0,
                password_hash=manager.password_hash,
            )
        )
        version = latest_version(session, "fgc_pathway")
        ids = {}
        for (
            family,
            team,
            received,
            screened,
            decision,
            reason,
            coordinator,
            allocated,
            kind,
        ) in families:
            case = Case(
                version_id=version.id,
                title=f"{family} family",
                state="",
                created_by="riley.referrer",
                team_id=team,
            )
            session.add(case)
            session.flush()
            session.add(
                Referral(
                    case_id=case.id,
                    family_name=family,
                    referrer_name="Riley Referrer",
                    referred_by="riley.referrer",
                    received_at=at(received),
                    referral_type=kind,
                    urgency="routine",
                    why_now="School attendance has fallen this term.",
                    problems=["school_attendance", "health"],
                    consent_given=True,
                    screening_decision=decision,
                    decline_reason=reason,
                    screened_by="morgan.manager" if screened else None,
                    screened_at=at(screened) if screened else None,
                    coordinator=coordinator,
                    allocated_at=at(allocated) if allocated else None,
                )
            )
            ids[family] = case.id
        session.add(
            SupportPackage(
                case_id=ids["Ashdown"],
                items=[{"item": "Sofa bed for Nan", "cost": "1234.50"}],
                total=Decimal("1234.50"),
                requested_by="casey.coordinator",
                requested_on=date(2026, 2, 1),
            )
        )
        session.commit()
    return ids


# --- reading the figures back as a user gets them -------------------------------------------


def page_table(html: str, key: str) -> list[list[str]]:
    """The rows of a table on the dashboard page as its cells read (header row first)."""
    import lxml.html

    section = lxml.html.fromstring(html).get_element_by_id(f"table-{key}")
    return [
        [cell.text_content().strip() for cell in row.xpath("./th|./td")]
        for row in section.xpath(".//table//tr")
    ]


def page_counts(html: str, key: str = "referrals") -> dict[str, int]:
    """received/accepted/declined as the page's referrals table shows them."""
    rows = {row[0]: row[1] for row in page_table(html, key)[1:]}
    return {name: int(rows[label].replace(",", "")) for name, label in ROWS.items()}


def csv_rows(data: bytes) -> list[list[str]]:
    import csv
    import io

    text = data.decode("utf-8")
    assert text.startswith("\ufeff"), "the CSV starts with a byte order mark for Excel"
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def csv_counts(data: bytes) -> dict[str, int]:
    rows = {row[0]: row[1] for row in csv_rows(data)[1:]}
    return {name: int(rows[label]) for name, label in ROWS.items()}


def json_counts(document: dict, key: str = "referrals") -> dict[str, int]:
    [table] = [t for t in document["tables"] if t["key"] == key]
    first, number = (c["key"] for c in table["columns"][:2])
    rows = {row[first]: row[number] for row in table["rows"]}
    return {name: rows[label] for name, label in ROWS.items()}
