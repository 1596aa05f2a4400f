"""Agent token rotation as a pure state machine (chalicelib/domain/agent_tokens.py)."""

from __future__ import annotations

from chalicelib.domain.agent_tokens import (
    AgentTokens,
    Presented,
    custody,
    derived_token,
    parse_token,
    registration_expired,
)

OLD = "7.42." + "a" * 43


def test_custody_changes_with_every_claim_and_release() -> None:
    free, alice, released, again, bob = (custody(None, None), custody(5, 100), custody(None, 100),
                                         custody(5, 200), custody(6, 200))
    assert len({free, alice, released, again, bob}) == 5
    assert custody(5, 100) == alice  # the same assignment, read again


def test_a_derived_token_names_the_same_desktop_and_depends_on_both_halves() -> None:
    new = derived_token(OLD, "nonce-1")
    assert parse_token(new) == (7, 42) and new != OLD
    assert derived_token(OLD, "nonce-1") == new  # offered again after a lost reply
    assert derived_token(OLD, "nonce-2") != new and derived_token("7.42." + "b" * 43, "nonce-1") != new


def test_same_assignment_keeps_the_token() -> None:
    tokens = AgentTokens.issued(OLD, custody(5, 100))
    assert tokens.settle(OLD, custody(5, 100), "n") == (tokens, None)


def test_a_rotation_offers_one_token_until_it_is_used_then_retires_the_old_one() -> None:
    tokens = AgentTokens.issued(OLD, custody(5, 100))
    pending, offered = tokens.settle(OLD, custody(None, 100), "n1")
    assert offered == derived_token(OLD, "n1") and pending.presented(offered) is Presented.NEXT
    assert pending.presented(OLD) is Presented.CURRENT
    # Lost reply: the old token again gets the same offer, whatever nonce would be fresh now.
    assert pending.settle(OLD, custody(None, 100), "n2") == (pending, offered)
    done, nothing = pending.settle(offered, custody(None, 100), "n3")
    assert nothing is None and done.presented(offered) is Presented.CURRENT
    assert done.presented(OLD) is Presented.RETIRED and done.custody == custody(None, 100)
    assert done.presented("7.42." + "c" * 43) is Presented.UNKNOWN


def test_a_change_during_a_rotation_rotates_again_from_the_new_token() -> None:
    tokens = AgentTokens.issued(OLD, custody(5, 100))
    pending, offered = tokens.settle(OLD, custody(None, 100), "n1")
    assert offered is not None
    # Bob claims the desktop before the agent used the offered token.
    assert pending.settle(OLD, custody(6, 200), "n2") == (pending, offered)
    after, next_offer = pending.settle(offered, custody(6, 200), "n3")
    assert next_offer == derived_token(offered, "n3")
    assert after.presented(offered) is Presented.CURRENT and after.presented(next_offer) is Presented.NEXT
    assert after.presented(OLD) is Presented.RETIRED


def test_a_token_from_before_rotation_existed_is_rotated_at_its_next_call() -> None:
    from chalicelib.domain.token_digest import token_hash

    legacy = AgentTokens.from_doc({"agent_token_hash": token_hash(OLD)})
    assert legacy.presented(OLD) is Presented.CURRENT
    _, offered = legacy.settle(OLD, custody(None, None), "n")
    assert offered is not None
    assert AgentTokens.from_doc({"agent_tokens": legacy.as_doc()}) == legacy


def test_registration_expiry_is_a_point_in_time() -> None:
    assert not registration_expired(1000.0, 999.9)
    assert registration_expired(1000.0, 1000.0)
    assert registration_expired(None, 0.0)


def test_a_stored_legacy_hash_that_is_not_text_is_no_token() -> None:
    assert AgentTokens.from_doc({"agent_token_hash": 12345}) == AgentTokens()
    assert AgentTokens.from_doc({"agent_token_hash": "abc"}) == AgentTokens(current="abc")
