"""The web app's skeleton: the factory, configuration and the placeholder page."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from webapp import create_app


def test_the_home_page_is_the_task_inbox(client):
    from tests.web import login

    login(client, "casey.coordinator")
    page = client.get("/")
    assert page.status_code == 302
    assert page.headers["Location"] == "/tasks"


def test_database_url_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KINFLOW_DATABASE_URL", f"sqlite:///{tmp_path}/from-env.db")
    app = create_app({"SECRET_KEY": "test"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/from-env.db"
    monkeypatch.setenv("KINFLOW_DATABASE_URL", "postgresql://kinflow@db.example/kinflow")
    assert (
        create_app({"SECRET_KEY": "t"})
        .config["SQLALCHEMY_DATABASE_URI"]
        .startswith("postgresql+psycopg://")
    )


def test_outside_development_a_secret_key_is_required(monkeypatch):
    monkeypatch.delenv("KINFLOW_SECRET_KEY", raising=False)
    monkeypatch.setenv("KINFLOW_ENV", "production")
    with pytest.raises(RuntimeError, match="KINFLOW_SECRET_KEY"):
        create_app()


def test_the_shipped_workflows_validate():
    from engine.validation import validate_paths

    validated = validate_paths([REPO / "workflows"], forms_dir=REPO / "forms")
    assert validated.ok, [str(p) for p in validated.problems]


def test_working_days_follow_the_configured_region(db_url):
    from datetime import UTC, datetime

    scotland = (
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": db_url,
                "SECRET_KEY": "t",
                "KINFLOW_HOLIDAY_REGION": "GB-SCT",
            }
        )
        .extensions["kinflow_runtime"]
        .calendar
    )
    england = (
        create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "t"})
        .extensions["kinflow_runtime"]
        .calendar
    )
    new_year = datetime(2026, 12, 31, 9, 0, tzinfo=UTC)  # Thursday
    # 2 January 2027 is a Saturday; Scotland's 2 January holiday moves to Monday 4 January.
    assert england.add_working_days(new_year, 1).day == 4
    assert scotland.add_working_days(new_year, 1).day == 5


def test_reminder_settings_come_from_the_environment_and_bad_ones_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("KINFLOW_DATABASE_URL", f"sqlite:///{tmp_path}/settings.db")
    monkeypatch.setenv("KINFLOW_DUE_SOON_WORKING_DAYS", "2")
    monkeypatch.setenv("KINFLOW_BASE_URL", "https://kinflow.example.org/")
    policy = create_app({"SECRET_KEY": "t"}).extensions["kinflow_runtime"].reminders
    assert (policy.due_soon_working_days, policy.base_url) == (2, "https://kinflow.example.org")
    monkeypatch.setenv("KINFLOW_DIGEST_HOUR", "25")
    with pytest.raises(RuntimeError, match="KINFLOW_DIGEST_HOUR must be an hour of the day"):
        create_app({"SECRET_KEY": "t"})
    monkeypatch.setenv("KINFLOW_NOTICE_WORKING_DAYS", "a week")
    with pytest.raises(RuntimeError, match="KINFLOW_NOTICE_WORKING_DAYS must be a whole number"):
        create_app({"SECRET_KEY": "t"})
