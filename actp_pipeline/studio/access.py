"""Who may see and do what: a logged-in user's roles per account, read from the store on every request so a
revoked role takes effect at once. Every page asks this object which accounts to read (`visible`) and whether
an action on one account is allowed (`require`); no page filters by account on its own terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from actp_pipeline.studio.users import ALL, ROLES


class Forbidden(Exception):
    """The user lacks the role an action needs on an account (answered 403 with this message)."""


@dataclass(frozen=True)
class Access:
    username: str
    roles: dict[str, str]  # account -> role; "*" = every account

    def role_on(self, account: str | None) -> str | None:
        """The strongest role on `account` (a "*" grant counts on every account)."""
        found = [r for a, r in self.roles.items() if a == ALL or a == account]
        return max(found, key=ROLES.index) if found else None

    def can(self, account: str | None, role: str) -> bool:
        have = self.role_on(account)
        return have is not None and ROLES.index(have) >= ROLES.index(role)

    def require(self, account: str | None, role: str) -> None:
        if not self.can(account, role):
            raise Forbidden(f"{self.username} is not {role} of account {account!r}")

    @property
    def sees_all(self) -> bool:
        return ALL in self.roles

    @property
    def is_admin(self) -> bool:
        return self.roles.get(ALL) == "admin"

    def visible(self, accounts: list[str] | None = None) -> list[str] | None:
        """The accounts this user reads: None = every account (a "*" grant); else the granted ones, narrowed
        to `accounts` when given."""
        if self.sees_all:
            return None if accounts is None else list(accounts)
        mine = sorted(self.roles)
        return mine if accounts is None else [a for a in accounts if a in self.roles]

    def sees(self, account: str | None) -> bool:
        return self.sees_all or account in self.roles
