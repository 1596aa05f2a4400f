"""Authentication servers (`/rest/v1/auth-servers`, our extension in the reference's style).

The bind password is write-only: it goes to Secrets Manager and the API only says whether one is set.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from chalicelib.schemas.common import (
    Flag,
    FlagOut,
    Id,
    LoginDomain,
    Name,
    Notes,
    OutModel,
    StrictModel,
    UpdateModel,
)

ServerType = Literal["local", "ldap", "active_directory"]
GroupMembership = Literal["memberOf", "group_search"]
MemberAttribute = Literal["member", "uniqueMember", "memberUid"]
LdapUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500,
                                           pattern=r"^(?i:ldaps?)://[^\s/?#]+/?$")]
Dn = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
BindPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Attribute = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                             pattern=r"^[A-Za-z][A-Za-z0-9-]*$")]
Timeout = Annotated[float, Field(gt=0, le=60)]
Pem = Annotated[str, StringConstraints(max_length=20000)]
RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Urls = Annotated[list[LdapUrl], Field(max_length=10)]


class AssignmentRuleBody(StrictModel):
    """One rule: a group (a DN, or a group's name) or any user -> a policy and a role."""

    group: Dn | None = None
    any_user: Flag = 0
    policy_id: Id
    role_name: RoleName = "User"

    @model_validator(mode="after")
    def _group_or_any(self) -> AssignmentRuleBody:
        if bool(self.any_user) == bool(self.group):
            raise ValueError("give either a group or any_user = 1")
        return self


Rules = Annotated[list[AssignmentRuleBody], Field(max_length=100)]


class AuthServerBody(StrictModel):
    name: Name
    type: ServerType
    domain: LoginDomain
    urls: Urls = Field(default_factory=list)
    start_tls: Flag = 0
    bind_dn: Dn | None = None
    bind_password: BindPassword | None = None
    search_base: Dn | None = None
    login_attribute: Attribute | None = None  # uid (ldap) or sAMAccountName (active_directory) by default
    group_membership: GroupMembership = "memberOf"
    group_search_base: Dn | None = None
    group_member_attribute: MemberAttribute = "member"
    connect_timeout_seconds: Timeout = 5.0
    receive_timeout_seconds: Timeout = 10.0
    verify_tls: Flag = 1
    ca_certificate_pem: Pem | None = None
    # ldap:// without StartTLS sends the bind password (and users' passwords) in clear: refused unless
    # this says the risk is accepted.
    allow_cleartext_password: Flag = 0
    rules: Rules = Field(default_factory=list)
    notes: Notes = ""


class AuthServerUpdate(UpdateModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"id", "group_search_base", "ca_certificate_pem"})

    id: int | None = None
    name: Name | None = None
    type: ServerType | None = None
    domain: LoginDomain | None = None
    urls: Urls | None = None
    start_tls: Flag | None = None
    bind_dn: Dn | None = None
    bind_password: BindPassword | None = None
    search_base: Dn | None = None
    login_attribute: Attribute | None = None
    group_membership: GroupMembership | None = None
    group_search_base: Dn | None = None
    group_member_attribute: MemberAttribute | None = None
    connect_timeout_seconds: Timeout | None = None
    receive_timeout_seconds: Timeout | None = None
    verify_tls: Flag | None = None
    ca_certificate_pem: Pem | None = None
    allow_cleartext_password: Flag | None = None
    rules: Rules | None = None
    notes: Notes | None = None


class AssignmentRuleOut(OutModel):
    group: str | None = None
    any_user: FlagOut
    policy_id: int
    role_name: str


class AuthServerOut(OutModel):
    id: int
    name: str
    type: str
    domain: str
    urls: list[str]
    start_tls: FlagOut
    bind_dn: str | None = None
    bind_password_set: FlagOut
    search_base: str | None = None
    login_attribute: str | None = None
    group_membership: str
    group_search_base: str | None = None
    group_member_attribute: str
    connect_timeout_seconds: float
    receive_timeout_seconds: float
    verify_tls: FlagOut
    ca_certificate_pem: str | None = None
    allow_cleartext_password: FlagOut = Field(
        description="1: passwords may be sent in clear (an ldap:// URL without StartTLS)")
    rules: list[AssignmentRuleOut]
    notes: str
    created: str
    updated: str


class AuthServerItemOut(OutModel):
    id: int
    name: str
    type: str
    domain: str


class RespAuthServerCreated(OutModel):
    stored_data: AuthServerOut


class AuthServerTestOut(OutModel):
    reachable: FlagOut
    message: str
