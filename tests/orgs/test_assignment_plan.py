"""What a role assignment adds and whether it may be sent: pure decisions, no Auth0, no page."""

from __future__ import annotations

from adminsite import auth0
from orgs.members import Assignment, assigned_message, plan_assignment


def ids(n: int) -> list[str]:
    return [f"rol_{i:016d}" for i in range(n)]


def test_only_the_roles_the_member_lacks_are_added_in_the_order_picked() -> None:
    plan = plan_assignment(["rol_a", "rol_b"], ["rol_c", "rol_a", "rol_d"])
    assert plan == Assignment(["rol_c", "rol_d"]) and not plan.refused


def test_nothing_new_is_refused_as_news() -> None:
    plan = plan_assignment(["rol_a", "rol_b"], ["rol_b", "rol_a"])
    assert plan.new == [] and plan.refused
    assert plan.refusal == "The member already has every role you picked."


def test_exactly_the_limit_passes() -> None:
    plan = plan_assignment(ids(48), ids(50)[46:])  # two already held, two new: 50 in all
    assert plan.new == ids(50)[48:] and not plan.refused


def test_one_past_the_limit_is_refused_with_what_to_do() -> None:
    plan = plan_assignment(ids(48), ["rol_x", "rol_y", "rol_z"])
    assert plan.new == ["rol_x", "rol_y", "rol_z"] and plan.refused
    assert "has 48 roles" in plan.refusal and "at most 50" in plan.refusal
    assert "Pick at most 2" in plan.refusal and plan.refusal.startswith("Nothing was assigned")


def test_the_limit_is_a_parameter() -> None:
    assert plan_assignment(["rol_a"], ["rol_b"], limit=1).refused
    assert not plan_assignment([], ["rol_b"], limit=1).refused


def test_the_success_message_names_the_new_roles_as_auth0_read_them() -> None:
    after = [auth0.Role("rol_a", "Admin", ""), auth0.Role("rol_b", "Billing", "")]
    jane = "Jane Smith (jane@acme.example · auth0|1)"
    assert assigned_message(jane, ["rol_b"], after) == (
        "Assigned the role Billing to Jane Smith (jane@acme.example · auth0|1)."
    )
    assert assigned_message(jane, ["rol_a", "rol_b"], after) == (
        "Assigned the roles Admin, Billing to Jane Smith (jane@acme.example · auth0|1)."
    )
    # Not among the roles read after (removed meanwhile): a count, never a bare number.
    assert assigned_message(jane, ["rol_c"], after) == f"Assigned 1 role to {jane}."
    assert assigned_message(jane, ["rol_a", "rol_b"], None) == (
        f"Assigned 2 roles to {jane}; reload to see them."
    )


def test_the_refusal_names_the_person_it_is_about() -> None:
    who = "Jane {Smith} (jane@acme.example · auth0|1)"  # braces in a name are only text
    plan = plan_assignment(["rol_a"], ["rol_a"])
    assert plan.refusal_for(who) == f"{who} already has every role you picked."
    plan = plan_assignment(ids(50), ["rol_x"])
    assert plan.refusal_for(who).startswith(f"Nothing was assigned: {who} has 50 roles")
    assert plan.refusal.startswith("Nothing was assigned: the member has 50 roles")
