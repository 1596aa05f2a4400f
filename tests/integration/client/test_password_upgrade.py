"""Password hashes made with other argon2 parameters are replaced at the next successful login (with
either login route), and only then: a wrong password leaves the hash alone."""

from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters

from chalicelib.auth import passwords
from chalicelib.store import stores
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.client.conftest import USER_PASSWORD, ClientApi, ClientWorld

OLD_PROFILE = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)  # argon2-cffi's default


def hash_of(tenant_id: int, login: str) -> str:
    user = stores.users.find_by_login(tenant_id, login)
    assert user is not None and user.password_hash
    return user.password_hash


def with_old_hash(tenant_id: int, login: str, password: str) -> None:
    user = stores.users.find_by_login(tenant_id, login)
    assert user is not None
    stores.users.replace_hash(user, str(user.password_hash), OLD_PROFILE.hash(password))
    assert extract_parameters(hash_of(tenant_id, login)).memory_cost == 64 * 1024


def test_old_hashes_are_upgraded_at_the_next_login(world: ClientWorld, client: ClientApi, api: Api,
                                                   tenant: TenantAdmin) -> None:
    current = extract_parameters(passwords.hash_password("x"))
    world.user("alice")
    with_old_hash(tenant.tenant_id, "alice", USER_PASSWORD)
    client.login("alice", "wrong", expect=401)
    assert extract_parameters(hash_of(tenant.tenant_id, "alice")).memory_cost == 64 * 1024
    client.login("alice", expect=200)
    upgraded = hash_of(tenant.tenant_id, "alice")
    assert extract_parameters(upgraded) == current
    client.login("alice", expect=200)  # the new hash checks out, and is left alone
    assert hash_of(tenant.tenant_id, "alice") == upgraded
    # the admin API's login upgrades too
    with_old_hash(tenant.tenant_id, "boss", "tenant-admin-pw")
    api.login("boss", "tenant-admin-pw", domain=tenant.name)
    assert extract_parameters(hash_of(tenant.tenant_id, "boss")) == current
