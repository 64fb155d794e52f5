"""Accounts: users with roles in teams, argon2 passwords, and the actor each user acts as."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.accounts import (
    Team,
    User,
    actor_for,
    check_password,
    create_user,
    find_user,
    get_or_create_team,
    set_password,
)
from engine.actors import Actor
from engine.errors import KinflowError, NotAllowed
from engine.roles import ROLES


def test_a_user_can_be_created_for_every_role(session):
    team = get_or_create_team(session, "Luton FGC service")
    for role in ROLES:
        create_user(session, f"{role}.one", f"One {role}", [role], team=team)
    session.expire_all()
    users = session.scalars(select(User).order_by(User.id)).all()
    assert [u.roles for u in users] == [[role] for role in ROLES]
    assert {u.team.name for u in users} == {"Luton FGC service"}
    assert all(u.active and u.password_hash is None for u in users)
    assert all(u.created_at.tzinfo is not None for u in users)
    assert actor_for(users[1]) == Actor.of("fgc_manager.one", "fgc_manager")


def test_a_user_may_hold_several_roles_and_the_actor_has_them_all(session):
    user = create_user(session, "mo.both", "Mo Both", ["coordinator", "fgc_manager", "coordinator"])
    assert user.roles == ["coordinator", "fgc_manager"]
    assert actor_for(user).roles == frozenset({"coordinator", "fgc_manager"})


def test_a_username_is_kept_in_lower_case_and_found_in_any_case(session):
    user = create_user(session, "  Casey.Bright ", "Casey Bright", ["coordinator"])
    assert user.username == "casey.bright"
    assert find_user(session, "CASEY.BRIGHT").id == user.id
    assert find_user(session, "nobody") is None


def test_a_duplicate_username_is_refused(session):
    create_user(session, "casey.bright", "Casey Bright", ["coordinator"])
    with pytest.raises(KinflowError, match="username: 'casey.bright' is already taken"):
        create_user(session, "Casey.Bright", "Another Casey", ["referrer"])
    assert session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("username", ["", "x", "casey bright", "casey@home", "élodie", "a" * 65])
def test_a_bad_username_is_refused_naming_the_field(session, username):
    with pytest.raises(KinflowError, match="^username: "):
        create_user(session, username, "Someone", ["referrer"])


def test_an_unknown_role_is_refused_naming_the_role(session):
    with pytest.raises(KinflowError, match=r"^roles: 'social_worker' is not a role; choose from"):
        create_user(session, "sam.jones", "Sam Jones", ["referrer", "social_worker"])
    assert find_user(session, "sam.jones") is None


def test_a_user_needs_at_least_one_role_and_a_display_name(session):
    with pytest.raises(KinflowError, match="^roles: "):
        create_user(session, "sam.jones", "Sam Jones", [])
    with pytest.raises(KinflowError, match="^display_name: "):
        create_user(session, "sam.jones", "  ", ["referrer"])
    with pytest.raises(KinflowError, match="^email: "):
        create_user(session, "sam.jones", "Sam Jones", ["referrer"], email="not an address")


def test_a_team_named_twice_is_the_same_team(session):
    first = get_or_create_team(session, "Luton FGC service")
    user = create_user(session, "sam.jones", "Sam Jones", ["referrer"], team="Luton FGC service")
    assert user.team_id == first.id
    assert get_or_create_team(session, "Luton FGC service").id == first.id
    assert session.scalar(select(func.count()).select_from(Team)) == 1


def test_passwords_are_stored_as_argon2_hashes_and_checked(session):
    user = create_user(session, "sam.jones", "Sam Jones", ["referrer"], password="correct horse")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    session.expire_all()
    user = find_user(session, "sam.jones")
    assert check_password(user, "correct horse")
    assert not check_password(user, "Correct horse")
    assert not check_password(user, "")

    set_password(user, "battery staple")
    session.commit()
    assert check_password(user, "battery staple")
    assert not check_password(user, "correct horse")


def test_a_user_without_a_password_cannot_sign_in_with_one(session):
    user = create_user(session, "sam.jones", "Sam Jones", ["referrer"])
    assert not check_password(user, "anything")
    with pytest.raises(KinflowError, match="^password: "):
        set_password(user, "")


def test_a_damaged_hash_fails_the_check_rather_than_raising(session):
    user = create_user(session, "sam.jones", "Sam Jones", ["referrer"], password="pw")
    user.password_hash = "not-a-hash"
    assert not check_password(user, "pw")


def test_an_inactive_user_keeps_the_account_but_cannot_act(session):
    user = create_user(session, "sam.jones", "Sam Jones", ["referrer"], password="pw")
    assert user.active is True
    user.active = False
    session.commit()
    session.expire_all()
    user = find_user(session, "sam.jones")
    assert user.active is False
    with pytest.raises(NotAllowed, match="deactivated"):
        actor_for(user)


def test_a_hash_made_with_other_settings_is_upgraded_at_the_next_sign_in(session):
    from argon2 import PasswordHasher

    user = create_user(session, "sam.jones", "Sam Jones", ["coordinator"])
    older = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    user.password_hash = older.hash("three random words")
    assert check_password(user, "three random words")
    assert "m=2048,t=2" not in user.password_hash
    assert check_password(user, "three random words")
