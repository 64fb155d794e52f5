"""Sign-ins kept on the server (engine/sign_ins.py), without the web app."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from engine import sign_ins
from engine.sign_ins import SignIn
from tests.web import add_workers

LIFETIME = timedelta(minutes=120)


@pytest.fixture
def today(monkeypatch):
    """The wall clock's day, moved by the test (sign-ins follow the cookie's clock)."""
    day = {"now": date(2026, 11, 24)}
    monkeypatch.setattr(sign_ins, "_today", lambda: day["now"])
    return day


def test_a_sign_in_names_its_user_until_it_is_ended(session, today):
    casey = add_workers(session)["casey.coordinator"]
    secret = sign_ins.start(session, casey, LIFETIME)
    session.commit()
    assert sign_ins.signed_in_user(session, casey.id, secret) is casey
    assert sign_ins.signed_in_user(session, casey.id, secret + "x") is None
    assert sign_ins.signed_in_user(session, casey.id, None) is None
    sign_ins.end(session, secret)
    session.commit()
    assert sign_ins.signed_in_user(session, casey.id, secret) is None


def test_a_secret_signs_in_only_its_own_user(session, today):
    workers = add_workers(session)
    secret = sign_ins.start(session, workers["casey.coordinator"], LIFETIME)
    session.commit()
    assert sign_ins.signed_in_user(session, workers["morgan.manager"].id, secret) is None


def test_only_a_hash_of_the_secret_is_stored(session, today):
    casey = add_workers(session)["casey.coordinator"]
    secret = sign_ins.start(session, casey, LIFETIME)
    session.commit()
    assert secret not in session.scalars(select(SignIn.secret_hash)).all()


def test_a_deactivated_user_is_signed_in_nowhere(session, today):
    casey = add_workers(session)["casey.coordinator"]
    secret = sign_ins.start(session, casey, LIFETIME)
    casey.active = False
    session.commit()
    assert sign_ins.signed_in_user(session, casey.id, secret) is None


def test_sign_ins_unused_beyond_the_cookie_lifetime_are_forgotten_at_the_next_sign_in(
    session, today
):
    workers = add_workers(session)
    casey, morgan = workers["casey.coordinator"], workers["morgan.manager"]
    used = sign_ins.start(session, casey, LIFETIME)
    sign_ins.start(session, casey, LIFETIME)  # never used again
    session.commit()
    today["now"] += timedelta(days=1)
    assert sign_ins.signed_in_user(session, casey.id, used) is casey  # seen again today
    today["now"] += timedelta(days=1)
    sign_ins.start(session, morgan, LIFETIME)
    session.commit()
    # The unused one was last seen two days ago, beyond a two-hour cookie and a day's grace.
    assert session.scalar(select(func.count()).select_from(SignIn)) == 2
    assert sign_ins.signed_in_user(session, casey.id, used) is casey
