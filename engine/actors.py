"""Who is acting: the engine trusts the caller to have authenticated them."""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """A person (or the system) acting on cases, with the roles they hold."""

    username: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, username: str, *roles: str) -> Actor:
        return cls(username, frozenset(roles))

    def has_any_role(self, roles: list[str] | tuple[str, ...] | set[str]) -> bool:
        return not self.roles.isdisjoint(roles)
