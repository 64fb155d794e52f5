"""The scheduler of timers, reminders, email and the dashboard's refresh for this app's
database: in its own process (``kinflow scheduler``) or inside the development server
(``make run``). Only one is active per database whatever runs."""

from __future__ import annotations

import atexit
import os
from datetime import timedelta

from flask import Flask

from engine.db import make_sessionmaker
from engine.notifications.outbox import Postman, transport_from_env
from engine.scheduler import Scheduler
from webapp.extensions import db


def scheduler_for(app: Flask) -> Scheduler:
    with app.app_context():
        engine = db.engine
    sessions = make_sessionmaker(engine)
    postman = Postman(sessions, transport_from_env(os.environ))
    minutes = app.config["KINFLOW_REPORT_REFRESH_MINUTES"]
    reports = timedelta(minutes=minutes) if minutes else None
    runtime = app.extensions["kinflow_runtime"]
    return Scheduler(engine, sessions, runtime, postman, report_refresh=reports)


def start_in_app(app: Flask) -> Scheduler:
    """Run the scheduler in this process's background threads until the process ends."""
    scheduler = scheduler_for(app)
    scheduler.start()
    atexit.register(scheduler.stop)
    app.extensions["kinflow_scheduler"] = scheduler
    return scheduler
