"""Officials' accounts: users, roles scoped to organisations, portal sessions and API tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session as OrmSession

from tinhso.core.db import utcnow
from tinhso.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from tinhso.core.security import hash_password, new_token, token_digest, verify_password
from tinhso.registry import backoff, repository
from tinhso.registry.backoff import BackoffPolicy
from tinhso.registry.models import (
    CredentialKind,
    Role,
    RoleAssignment,
    SignInFailure,
    User,
    UserCredential,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.schemas import RoleGrant, UserCreate


# Wrong passwords make the address that sent them wait, longer with each one (see
# tinhso.registry.backoff): never a lockout that refuses the right password to everyone.
LOGIN_BACKOFF = BackoffPolicy()


@dataclass(frozen=True)
class IssuedCredential:
    token: str  # shown to the holder once, never stored
    expires_in: int
    user: User


class AccountService:
    def get(self, session: Session, username: str) -> User:
        user = repository.user_by_username(session, username)
        if user is None:
            raise NotFound(
                f"Không tìm thấy người dùng {username}",
                f"User {username} not found",
                field="username",
            )
        return user

    def create(self, session: Session, data: UserCreate, *, platform_admin: bool = False) -> User:
        if repository.user_by_username(session, data.username) is not None:
            raise Conflict(
                f"Tên đăng nhập {data.username} đã tồn tại",
                f"Username {data.username} already exists",
                field="username",
            )
        user = User(
            username=data.username,
            full_name=data.full_name,
            email=str(data.email) if data.email else None,
            password_hash=hash_password(data.password),
            is_platform_admin=platform_admin,
        )
        session.add(user)
        session.flush()
        for grant in data.roles:
            self.assign_role(session, user, grant)
        return user

    def assign_role(self, session: Session, user: User, grant: RoleGrant) -> RoleAssignment:
        organisation = repository.organisation_by_code(session, grant.organisation_code)
        if organisation is None:
            raise InvalidInput(
                f"Tổ chức {grant.organisation_code} không tồn tại",
                f"Organisation {grant.organisation_code} does not exist",
                field="organisation_code",
            )
        assignment = session.scalar(
            select(RoleAssignment).where(
                RoleAssignment.user_id == user.id, RoleAssignment.organisation_id == organisation.id
            )
        )
        if assignment is None:
            assignment = RoleAssignment(
                user_id=user.id, organisation_id=organisation.id, role=grant.role
            )
            session.add(assignment)
        else:
            assignment.role = grant.role
        session.flush()
        return assignment

    def remove_role(self, session: Session, user: User, organisation_id: int) -> None:
        assignment = session.scalar(
            select(RoleAssignment).where(
                RoleAssignment.user_id == user.id, RoleAssignment.organisation_id == organisation_id
            )
        )
        if assignment is None:
            raise NotFound(
                "Người dùng không có vai trò này", "The user has no such role", field="role"
            )
        session.delete(assignment)
        session.flush()

    def emails_in(
        self, session: Session, organisation_id: int, roles: frozenset[Role]
    ) -> list[str]:
        """E-mail addresses of the active officials holding one of ``roles`` in an
        organisation (those without an address are skipped)."""
        found = session.scalars(
            select(User.email)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.organisation_id == organisation_id,
                RoleAssignment.role.in_(roles),
                User.is_active.is_(True),
                User.email.is_not(None),
            )
            .order_by(User.id)
        )
        return [email for email in found if email]

    def usernames(self, session: Session, ids: set[int]) -> dict[int, str]:
        """User id -> username, in one query."""
        if not ids:
            return {}
        rows = session.execute(select(User.id, User.username).where(User.id.in_(sorted(ids))))
        return {user_id: username for user_id, username in rows}  # noqa: C416

    def email_of(self, session: Session, user_id: int) -> str | None:
        user = session.get(User, user_id)
        return user.email if user is not None and user.is_active else None

    def _revoke_all(self, session: Session, user: User) -> int:
        """End every session and API token of the user; how many were live."""
        result = session.execute(
            update(UserCredential)
            .where(UserCredential.user_id == user.id, UserCredential.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def set_active(self, session: Session, user: User, *, active: bool) -> User:
        """Disable an account (its sessions and tokens end at once) or enable it again."""
        user.is_active = active
        if not active:
            self._revoke_all(session, user)
        session.flush()
        return user

    def reset_password(self, session: Session, user: User) -> str:
        """A new random password (returned once, to hand over), every session and token
        ended, and the lock lifted."""
        password = secrets.token_urlsafe(12)
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        self._revoke_all(session, user)
        session.flush()
        return password

    def unlock(self, session: Session, user: User) -> User:
        """Lift the lock after too many wrong passwords: the account's own and the waits of
        the addresses it was tried from (the counters start again)."""
        user.failed_logins = 0
        user.locked_until = None
        account = backoff.user_account(user.id)
        session.execute(delete(SignInFailure).where(SignInFailure.account == account))
        session.flush()
        return user

    def roles(self, session: Session, user: User) -> dict[int, Role]:
        return {a.organisation_id: a.role for a in repository.role_assignments(session, user.id)}

    def login(
        self,
        session: Session,
        username: str,
        password: str,
        kind: CredentialKind,
        minutes: int,
        address: str = backoff.UNKNOWN_ADDRESS,
        policy: BackoffPolicy = LOGIN_BACKOFF,
        device: tuple[str, str | None] | None = None,
    ) -> IssuedCredential:
        """Check a password sent from the client ``address``; wrong passwords make that address
        wait (see :mod:`tinhso.registry.backoff`), never the account's holder elsewhere.
        ``device``: (the platform's secret key, the client's device cookie): an attempt showing
        the account's own device cookie counts for that device instead of the address."""
        user = repository.user_by_username(session, username.strip().lower())
        account = backoff.user_account(user.id) if user is not None else None
        if user is not None and device is not None:
            address = backoff.device_address(device[0], device[1], user.id) or address
        must_wait = backoff.wait(
            session, account, address, user.locked_until if user is not None else None
        )
        if must_wait is not None:
            raise _too_many_attempts(must_wait)
        password_ok = verify_password(user.password_hash if user else None, password)
        if user is None or not password_ok or not user.is_active:
            if not password_ok:
                self._count_failure(session, user.id if user else None, address, policy)
            raise Unauthenticated(
                "Tên đăng nhập hoặc mật khẩu không đúng",
                "Wrong username or password",
                field="password",
            )
        assert account is not None  # noqa: S101 - the user is known here
        user.failed_logins = 0
        user.locked_until = None
        backoff.forget_account_at(session, account, address)
        token = new_token()
        session.add(
            UserCredential(
                user_id=user.id,
                kind=kind,
                token_digest=token_digest(token),
                expires_at=utcnow() + timedelta(minutes=minutes),
            )
        )
        user.last_login_at = utcnow()
        session.flush()
        return IssuedCredential(token=token, expires_in=minutes * 60, user=user)

    def _count_failure(
        self, session: Session, user_id: int | None, address: str, policy: BackoffPolicy
    ) -> None:
        """Count a wrong password in a transaction of its own: the request's own transaction
        is rolled back with the error, but the count must stay."""
        with OrmSession(bind=session.get_bind()) as counter, counter.begin():
            account = None
            if user_id is not None:
                user = counter.get(User, user_id, with_for_update=True)
                if user is not None:
                    account = backoff.user_account(user.id)
                    user.failed_logins += 1
                    user.locked_until = backoff.account_failed(policy, user.failed_logins)
            backoff.count_failure(counter, policy, account, address)

    def authenticate(self, session: Session, token: str, kind: CredentialKind) -> User | None:
        """The active user holding a live credential of this kind, or None."""
        row = session.execute(
            select(User, UserCredential.expires_at, UserCredential.revoked_at)
            .join(UserCredential, UserCredential.user_id == User.id)
            .where(UserCredential.token_digest == token_digest(token), UserCredential.kind == kind)
        ).first()
        if row is None:
            return None
        user, expires_at, revoked_at = row
        if revoked_at is not None or expires_at <= utcnow() or not user.is_active:
            return None
        return user

    def revoke(self, session: Session, token: str) -> None:
        session.execute(
            update(UserCredential)
            .where(UserCredential.token_digest == token_digest(token))
            .values(revoked_at=utcnow())
        )
        session.flush()


account_service = AccountService()


def _too_many_attempts(must_wait: backoff.Wait) -> TooManyAttempts:
    seconds = must_wait.seconds
    if must_wait.by_address:
        vi = f"Quá nhiều lần đăng nhập sai từ địa chỉ này; thử lại sau {seconds} giây"
        en = f"Too many failed sign-ins from this address; try again in {seconds} seconds"
    else:
        vi = (
            "Đã nhập sai mật khẩu của tài khoản này nhiều lần từ địa chỉ này; "
            f"thử lại sau {seconds} giây"
        )
        en = (
            "Too many wrong passwords for this account from this address; "
            f"try again in {seconds} seconds"
        )
    return TooManyAttempts(vi, en, field="password", headers={"Retry-After": str(seconds)})
