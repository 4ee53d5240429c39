"""Users of the control API: a name, a role, and the hash of their bearer token.

``store.api_users`` (an `ApiUsers`) keeps who may use the control API:

    users.add("dana", "agent", token_hash, at=now, agent_id="1001")
    users.by_token_hash(token_hash)          # the active user, or None
    users.disable("dana", at=later)          # kept for the audit trail, no longer accepted

Only the token's hash is stored (the token itself is random and shown
once, by ``callcenter users add``). A removed user is disabled, not deleted,
so that audit rows naming them still make sense; adding the same name
again gives it a new role and token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.core.store.checks import refused
from callcenter.core.store.models import Base

if TYPE_CHECKING:
    from callcenter.core.store.store import Store

#: Roles of API users, least to most allowed.
API_ROLES = ("agent", "supervisor", "admin")


class ApiUserRow(Base):
    """A user of the control API: their role and the hash of their bearer token."""

    __tablename__ = "api_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # API_ROLES
    agent_id: Mapped[str | None] = mapped_column(String(16))  # the ACD agent an agent user is
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex, not the token
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]  # removed: the token is no longer accepted


@dataclass(frozen=True, slots=True)
class ApiUserRecord:
    """A user of the control API; `agent_id` is the ACD agent an ``agent`` user is."""

    name: str
    role: str
    agent_id: str | None
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the user's token is accepted."""
        return self.disabled_at is None

    @classmethod
    def from_row(cls, row: ApiUserRow) -> ApiUserRecord:
        return cls(name=row.name, role=row.role, agent_id=row.agent_id,
                   created_at=row.created_at, disabled_at=row.disabled_at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values, times in ISO 8601."""
        return {"name": self.name, "role": self.role, "agent_id": self.agent_id,
                "created_at": self.created_at.isoformat(),
                "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None}


class ApiUsers:
    """The API users of one `Store`; every method is one unit of work."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, name: str, role: str, token_hash: str, *, at: datetime,
            agent_id: str | None = None) -> ApiUserRecord:
        """Add user `name` (or give a removed one a new role and token).

        StoreError (not retryable) for an unknown role, an agent user without
        `agent_id`, or a name an active user has.
        """
        if role not in API_ROLES:
            raise refused(f"unknown role {role!r}; expected one of {', '.join(API_ROLES)}")
        if role == "agent" and not agent_id:
            raise refused("an agent user needs the id of the agent they are")
        if at.tzinfo is None:
            raise refused(f"at is a naive datetime ({at!r}); pass a timezone-aware one")
        with self._store._unit(f"add API user {name!r}", write=True) as s:
            row = s.scalars(select(ApiUserRow).where(ApiUserRow.name == name)
                            .with_for_update()).first()
            if row is not None and row.disabled_at is None:
                raise refused(f"API user {name!r} exists; remove it first to give it a "
                               "new token")
            if row is None:
                row = ApiUserRow(name=name)
                s.add(row)
            row.role, row.agent_id, row.token_hash = role, agent_id, token_hash
            row.created_at, row.disabled_at = at, None
            s.flush()
            return ApiUserRecord.from_row(row)

    def by_token_hash(self, token_hash: str) -> ApiUserRecord | None:
        """The active user whose token has this hash, or None."""
        query = select(ApiUserRow).where(ApiUserRow.token_hash == token_hash,
                                         ApiUserRow.disabled_at.is_(None))
        with self._store._unit("look up an API token") as s:
            row = s.scalars(query).first()
            return None if row is None else ApiUserRecord.from_row(row)

    def all(self) -> list[ApiUserRecord]:
        """Every user, removed ones too, by name."""
        with self._store._unit("read the API users") as s:
            return [ApiUserRecord.from_row(r)
                    for r in s.scalars(select(ApiUserRow).order_by(ApiUserRow.name))]

    def disable(self, name: str, *, at: datetime) -> bool:
        """Stop accepting `name`'s token; False if no active user has that name."""
        query = select(ApiUserRow).where(ApiUserRow.name == name,
                                         ApiUserRow.disabled_at.is_(None))
        with self._store._unit(f"remove API user {name!r}", write=True) as s:
            row = s.scalars(query.with_for_update()).first()
            if row is None:
                return False
            row.disabled_at = at
            return True
