"""API shapes of the registry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from tinhso.registry.models import (
    OrganisationKind,
    Role,
    SystemStatus,
    UnitLevel,
    UnitSet,
)

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$"),
    Field(description="Lower-case code: letters, digits, '.', '_' or '-' (2–64 characters)"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=300)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitOut(BaseModel):
    unit_set: UnitSet
    code: str
    name: str
    kind: str
    level: UnitLevel
    parent_code: str | None
    valid_from: date | None
    valid_to: date | None


class UnitRef(Strict):
    unit_set: UnitSet = UnitSet.CURRENT
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]


class SuccessionOut(BaseModel):
    legacy: UnitOut
    current: UnitOut
    partial: bool


class OrganisationCreate(Strict):
    code: Code
    name_vi: Name
    name_en: Name | None = None
    kind: OrganisationKind
    parent_code: Code | None = None
    administrative_unit: UnitRef | None = None
    tax_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{10}(-[0-9]{3})?$")] | None = None


class OrganisationUpdate(Strict):
    name_vi: Name | None = None
    name_en: Name | None = None
    kind: OrganisationKind | None = None
    parent_code: Code | None = None
    administrative_unit: UnitRef | None = None
    tax_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{10}(-[0-9]{3})?$")] | None = None
    # Platform administrators only: a disabled organisation's systems are refused everywhere.
    disabled: bool | None = None


class OrganisationOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    kind: OrganisationKind
    parent_code: str | None
    administrative_unit: UnitRef | None
    tax_code: str | None
    disabled: bool = False
    created_at: datetime
    updated_at: datetime


class SystemCreate(Strict):
    code: Code
    organisation_code: Code
    name_vi: Name
    name_en: Name | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    is_consumer: bool = True
    is_provider: bool = False


class SystemUpdate(Strict):
    name_vi: Name | None = None
    name_en: Name | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    is_consumer: bool | None = None
    is_provider: bool | None = None
    status: SystemStatus | None = None


class SystemOut(BaseModel):
    code: str
    organisation_code: str
    name_vi: str
    name_en: str | None
    description: str | None
    is_consumer: bool
    is_provider: bool
    status: SystemStatus
    created_at: datetime
    updated_at: datetime


class RoleGrant(Strict):
    organisation_code: Code
    role: Role


Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$"),
]
Password = Annotated[str, StringConstraints(min_length=12, max_length=200)]


class UserCreate(Strict):
    username: Username
    full_name: Name
    email: EmailStr | None = None
    password: Password
    roles: list[RoleGrant] = Field(default_factory=list)


class UserOut(BaseModel):
    username: str
    full_name: str
    email: str | None
    is_active: bool
    is_platform_admin: bool
    roles: list[RoleGrant]


class UserStatusIn(Strict):
    is_active: bool


class PasswordResetOut(BaseModel):
    username: str
    password: str  # shown once, to hand over in person or by phone


class TokenRequest(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=64)]
    password: Annotated[str, StringConstraints(max_length=200)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
