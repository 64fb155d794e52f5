"""The roles of the FGC service (domain.md); lanes and candidate groups must name one of them."""

REFERRER = "referrer"
FGC_MANAGER = "fgc_manager"
COORDINATOR = "coordinator"
LEAD_PRACTITIONER = "lead_practitioner"
DATA_OFFICER = "data_officer"
PROCESS_OWNER = "process_owner"
ADMIN = "admin"

ROLES: tuple[str, ...] = (
    REFERRER,
    FGC_MANAGER,
    COORDINATOR,
    LEAD_PRACTITIONER,
    DATA_OFFICER,
    PROCESS_OWNER,
    ADMIN,
)

# What each role is called on screen, and what it does, in the words of domain.md.
ROLE_NAMES: dict[str, str] = {
    REFERRER: "Referrer",
    FGC_MANAGER: "FGC manager",
    COORDINATOR: "Coordinator",
    LEAD_PRACTITIONER: "Lead practitioner",
    DATA_OFFICER: "Data officer",
    PROCESS_OWNER: "Process owner",
    ADMIN: "Admin",
}
ROLE_DUTIES: dict[str, str] = {
    REFERRER: "submits referrals and accepts or rejects the family plan",
    FGC_MANAGER: "screens referrals, allocates coordinators, approves support, reads the audit log",
    COORDINATOR: "prepares the network, runs conferences and reviews",
    LEAD_PRACTITIONER: "does the whole-family assessment and monitors the plan",
    DATA_OFFICER: "records outcomes and Supporting Families claims",
    PROCESS_OWNER: "edits and deploys the pathway diagrams and forms",
    ADMIN: "manages users, roles and teams",
}

_LANE_ALIASES = {r.replace("_", " "): r for r in ROLES} | {"fgc manager": FGC_MANAGER}


def role_for_lane(lane_name: str | None) -> str | None:
    """Map a lane's name ('Coordinator', 'FGC Manager', 'fgc_manager') to a role identifier."""
    if not lane_name:
        return None
    key = " ".join(lane_name.strip().lower().replace("_", " ").replace("-", " ").split())
    return _LANE_ALIASES.get(key)


# Roles that may hand any task of their team to someone else (managers reassign work). Not
# admins: they run accounts, and do not see families' records (engine/access.py).
MANAGING_ROLES: tuple[str, ...] = (FGC_MANAGER,)


def roles_in_words(roles: list[str]) -> str:
    """Roles as a person reads them: "Coordinator or FGC manager" ("anyone" for none)."""
    return " or ".join(ROLE_NAMES.get(r, r) for r in roles) or "anyone"
