"""Kinflow's web app: ``create_app`` builds it, one blueprint per area."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from engine import clock
from engine.calendar import WorkingCalendar
from engine.db import normalize_url, tune
from engine.errors import KinflowError
from engine.notifications.planning import ReminderPolicy
from engine.retention import RECORD_TYPES, RetentionPolicy
from engine.runtime import Runtime
from webapp.extensions import csrf, db

REPO_ROOT = Path(__file__).resolve().parent.parent


def _settings_from_environment(instance_path: str) -> dict[str, Any]:
    """Every KINFLOW_* setting, read once here (README 'Configuration' lists them)."""
    env = os.environ
    default_db = f"sqlite:///{Path(instance_path) / 'kinflow.db'}"
    return {
        "SQLALCHEMY_DATABASE_URI": normalize_url(env.get("KINFLOW_DATABASE_URL", default_db)),
        "SECRET_KEY": env.get("KINFLOW_SECRET_KEY"),
        "KINFLOW_WORKFLOWS_DIR": env.get("KINFLOW_WORKFLOWS_DIR", str(REPO_ROOT / "workflows")),
        "KINFLOW_FORMS_DIR": env.get("KINFLOW_FORMS_DIR", str(REPO_ROOT / "forms")),
        "KINFLOW_DEPLOY_ON_START": env.get("KINFLOW_DEPLOY_ON_START", "0") == "1",
        "KINFLOW_ENV": env.get("KINFLOW_ENV", "development"),
        "KINFLOW_ELIGIBILITY_RULE": env.get("KINFLOW_ELIGIBILITY_RULE", "stronger_families"),
        "KINFLOW_HOLIDAY_REGION": env.get("KINFLOW_HOLIDAY_REGION", "GB-ENG"),
        "KINFLOW_SESSION_MINUTES": int(env.get("KINFLOW_SESSION_MINUTES", "120")),
        "KINFLOW_SCHEDULER_IN_APP": env.get("KINFLOW_SCHEDULER_IN_APP", "0") == "1",
        "KINFLOW_BASE_URL": env.get("KINFLOW_BASE_URL", "http://127.0.0.1:5000"),
        "KINFLOW_DUE_SOON_WORKING_DAYS": _whole_number(env, "KINFLOW_DUE_SOON_WORKING_DAYS", 1),
        "KINFLOW_NOTICE_WORKING_DAYS": _whole_number(env, "KINFLOW_NOTICE_WORKING_DAYS", 5),
        "KINFLOW_DIGEST_HOUR": _whole_number(env, "KINFLOW_DIGEST_HOUR", 8),
        "KINFLOW_REPORT_REFRESH_MINUTES": _whole_number(env, "KINFLOW_REPORT_REFRESH_MINUTES", 15),
        **{
            f"KINFLOW_RETENTION_{kind.key.upper()}": env.get(
                f"KINFLOW_RETENTION_{kind.key.upper()}", kind.default
            )
            for kind in RECORD_TYPES
        },
    }


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, str(default))
    if not value.isdigit():
        raise RuntimeError(f"{name} must be a whole number of 0 or more, not {value!r}.")
    return int(value)


def _reminder_policy(config: Mapping[str, Any]) -> ReminderPolicy:
    if not 0 <= config["KINFLOW_DIGEST_HOUR"] <= 23:
        raise RuntimeError("KINFLOW_DIGEST_HOUR must be an hour of the day, 0 to 23.")
    return ReminderPolicy(
        due_soon_working_days=config["KINFLOW_DUE_SOON_WORKING_DAYS"],
        notice_working_days=config["KINFLOW_NOTICE_WORKING_DAYS"],
        digest_hour=config["KINFLOW_DIGEST_HOUR"],
        base_url=config["KINFLOW_BASE_URL"].rstrip("/"),
    )


def _retention_policy(config: Mapping[str, Any]) -> RetentionPolicy:
    settings = {k.key: config.get(f"KINFLOW_RETENTION_{k.key.upper()}") for k in RECORD_TYPES}
    try:
        return RetentionPolicy.from_settings(settings)
    except KinflowError as exc:
        raise RuntimeError(str(exc)) from exc


def _session_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Cookies: HttpOnly always, SameSite always, Secure except in development (plain http)."""
    secure = config["KINFLOW_ENV"] != "development"
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        # Idle timeout: the session is renewed on each request and ends after this long unused.
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=config["KINFLOW_SESSION_MINUTES"]),
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead, so a long form still posts
    }


def _secret_key(instance_path: str) -> str:
    """Development only: a random key kept in the instance folder so sessions survive restarts."""
    key_file = Path(instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(_settings_from_environment(app.instance_path))
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config["SECRET_KEY"]:
        if app.config["KINFLOW_ENV"] != "development":
            raise RuntimeError("Set KINFLOW_SECRET_KEY outside development.")
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_url(app.config["SQLALCHEMY_DATABASE_URI"])
    for key, value in _session_settings(app.config).items():
        if test_config is None or key not in test_config:
            app.config[key] = value

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # After PostgreSQL restarts, pooled connections are dead: test each before use so the
        # app recovers by itself, and give up connecting quickly while the server is down.
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("pool_pre_ping", True)
        options.setdefault("connect_args", {}).setdefault("connect_timeout", 5)
    db.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        tune(db.engine)
    clock.install()
    country, _, region = app.config["KINFLOW_HOLIDAY_REGION"].partition("-")
    calendar = WorkingCalendar(country, region or None)
    app.extensions["kinflow_runtime"] = Runtime(calendar, reminders=_reminder_policy(app.config))
    app.extensions["kinflow_retention"] = _retention_policy(app.config)

    from webapp import (
        account,
        admin,
        api,
        assets,
        audit_log,
        auth,
        board,
        cases,
        cli,
        errors,
        extracts,
        form_editor,
        formatting,
        home,
        inbox,
        migration_page,
        modeller,
        navigation,
        notifications,
        referrals,
        reports,
        retention,
        stage_waits,
        subject_access,
        tasks,
    )

    auth.init_app(app)
    errors.init_app(app)
    navigation.init_app(app)
    formatting.init_app(app)
    for area in (auth, home, inbox, tasks, referrals, cases, board, admin, audit_log, account):
        app.register_blueprint(area.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(form_editor.bp)
    app.register_blueprint(modeller.bp)
    app.register_blueprint(migration_page.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(stage_waits.bp)
    app.register_blueprint(subject_access.bp)
    app.register_blueprint(retention.bp)
    app.register_blueprint(extracts.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API takes only bearer tokens, never the session cookie
    cli.init_app(app)

    if app.config["KINFLOW_DEPLOY_ON_START"]:
        with app.app_context():
            cli.deploy_default(app)
    if app.config["KINFLOW_SCHEDULER_IN_APP"]:
        from webapp.scheduling import start_in_app

        start_in_app(app)
    return app
