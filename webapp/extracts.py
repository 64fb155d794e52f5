"""Data out of the record, family by family: the Supporting Families claim report and the
case-level extract for council returns.

The filter and who may read are the dashboard's (``webapp/report_request.py``): data officers
every team, FGC managers their own team only. Unlike the dashboard's counts, these list
families, so every view and download is written to the audit log: one entry for the report as
a whole (what was asked) and one per case it listed, so a case's own audit trail, and the
managers of its team, see that its data left in a report.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, url_for

from engine import audit
from engine.decision_table import DecisionTable
from engine.reports.claim_evidence import claims_table
from engine.reports.claims import FamilyClaim, claim_report, claim_rules
from engine.reports.csv_export import table_csv
from engine.reports.extract import case_ids, extract_table
from engine.roles import DATA_OFFICER, FGC_MANAGER
from webapp.extensions import db
from webapp.permissions import me, requires_roles
from webapp.report_request import LABELS, ReportRequest, read_request
from webapp.reports import download, refused_download

bp = Blueprint("extracts", __name__)


def _described(name: str, asked: ReportRequest) -> str:
    """What was asked, for the audit log: the report and its filter (no family's details)."""
    kept = ", ".join(f"{key}={value}" for key, value in asked.query().items())
    if asked.team_fixed:
        kept += f", team={asked.where.team_id}"
    return f"{name} {kept}"


def _audit(action: str, target: str, cases: list[int]) -> None:
    session = db.session()
    username = me().username
    audit.record(session, username, action, None, f"{target}: {len(cases)} cases")
    for case_id in cases:
        audit.record(session, username, action, case_id, target)
    session.commit()


def _rules() -> DecisionTable:
    """The claim rules deployed with the pathway (else the configured workflows folder's)."""
    folder = Path(current_app.config["KINFLOW_WORKFLOWS_DIR"])
    return claim_rules(db.session(), folder)


@bp.get("/reports/claims")
@requires_roles(FGC_MANAGER, DATA_OFFICER)
def claims() -> tuple[str, int]:
    session = db.session()
    asked = read_request(session, me(), request.args)
    found = claim_report(session, asked.where, _rules())
    _audit("view_claims_report", _described("claims report", asked), [c.case_id for c in found])
    claimable: list[FamilyClaim] = [c for c in found if c.claimable]
    page = render_template(
        "extracts/claims.html",
        asked=asked,
        claimable=claimable,
        not_claimable=[c for c in found if not c.claimable],
        labels=LABELS,
        claims_csv=url_for("extracts.claims_csv", **asked.query()),
        cases_csv=url_for("extracts.cases_csv", **asked.query()),
    )
    return page, 400 if asked.errors else 200


@bp.get("/reports/claims.csv")
@requires_roles(FGC_MANAGER, DATA_OFFICER)
def claims_csv() -> Response | tuple[Response | str, int]:
    session = db.session()
    asked = read_request(session, me(), request.args)
    if asked.errors:
        return refused_download(asked)
    found = claim_report(session, asked.where, _rules())
    cases = [c.case_id for c in found]
    _audit("download_claims_csv", _described("claims.csv", asked), cases)
    return download(
        table_csv(claims_table(found)).encode("utf-8"), asked.file_name("claims", "csv"), "text/csv"
    )


@bp.get("/reports/cases.csv")
@requires_roles(FGC_MANAGER, DATA_OFFICER)
def cases_csv() -> Response | tuple[Response | str, int]:
    session = db.session()
    asked = read_request(session, me(), request.args)
    if asked.errors:
        return refused_download(asked)
    table = extract_table(session, asked.where)
    _audit("download_case_extract", _described("cases.csv", asked), case_ids(table))
    return download(table_csv(table).encode("utf-8"), asked.file_name("cases", "csv"), "text/csv")
