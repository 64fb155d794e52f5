"""Personal API tokens for other council systems: shown once, kept only as a hash.

Tokens are 256 random bits, so a fast SHA-256 digest is as safe as a slow password hash
would be and lets every API call find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from engine import audit, clock
from engine.accounts import User
from engine.db import begin_write
from engine.errors import KinflowError, NotFound
from engine.models import Base

PREFIX = "kf_"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so a person can tell their tokens apart without the secret.
    hint: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, user: User, name: str, *, actor: str | None = None, via: str = "web"
) -> tuple[ApiToken, str]:
    """A new token for ``user``; the plain token is returned here and never again. Commits.

    With ``actor`` the creation is written to the audit log in the same commit.
    """
    label = (name or "").strip()
    if not label or len(label) > 80:
        raise KinflowError("name: give the token a name of at most 80 characters.")
    plain = PREFIX + secrets.token_urlsafe(32)
    begin_write(session)
    row = ApiToken(
        user_id=user.id,
        name=label,
        token_hash=_digest(plain),
        hint=plain[:10],
        created_at=clock.now(),
    )
    session.add(row)
    if actor is not None:
        target = f"token {row.hint} of {user.username}"
        audit.record(session, actor, "create_api_token", target=target, via=via)
    session.commit()
    return row, plain


def user_for_token(session: Session, plain: str) -> User | None:
    """The active user owning this live token, or None."""
    if not plain or not plain.startswith(PREFIX) or len(plain) > 200:
        return None
    # The owner's team is read only if asked for: every API call checks a token, and the
    # team's eager load was one more query on each of them.
    row = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == _digest(plain))
        .options(joinedload(ApiToken.user).lazyload(User.team))
    )
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row.user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """Oldest first, revoked ones included (a person can see when one stopped working)."""
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_token(
    session: Session, token_id: int, user: User, *, actor: str | None = None, via: str = "web"
) -> ApiToken:
    """Stop a token working; only its owner (or an admin, checked by the caller) does this.

    Revoking twice keeps the first time. With ``actor`` the revocation is audited.
    """
    begin_write(session)
    row = session.get(ApiToken, token_id, populate_existing=True)
    if row is None or row.user_id != user.id:
        session.rollback()
        raise NotFound("This token does not exist.")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        if actor is not None:
            target = f"token {row.hint} of {user.username}"
            audit.record(session, actor, "revoke_api_token", target=target, via=via)
    session.commit()
    return row
