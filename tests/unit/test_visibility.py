"""What a person may see of a kind is exactly what the evaluator answers for get, object by object."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from siteplane.rbac.evaluator import can
from siteplane.rbac.visibility import visibility

NAMESPACES = ["team-a", "team-b", "team-c"]
NAMES = ["www", "blog", "shop"]
USERS = ["alice", "bob"]
GROUPS = ["site-team", "dns-team"]


@dataclass(frozen=True)
class Row:
    subject_kind: str
    subject_name: str
    namespace: str | None
    resource_type: str
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...]


rows = st.builds(
    Row,
    subject_kind=st.sampled_from(["User", "Group", "ServiceAccount"]),
    subject_name=st.sampled_from(USERS + GROUPS),
    namespace=st.sampled_from([None, *NAMESPACES]),
    resource_type=st.sampled_from(["sites", "dnszones"]),
    verbs=st.lists(st.sampled_from(["get", "list", "watch", "update", "*"]), min_size=1, unique=True).map(tuple),
    resource_names=st.lists(st.sampled_from(NAMES), unique=True, max_size=2).map(tuple),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    grants=st.lists(rows, max_size=8),
    user=st.sampled_from(USERS),
    groups=st.lists(st.sampled_from(GROUPS), unique=True),
)
def test_visibility_agrees_with_the_evaluator_for_every_object(grants: list[Row], user: str, groups: list[str]) -> None:
    seen = visibility(grants, user, groups, "sites")
    for namespace in NAMESPACES:
        for name in NAMES:
            assert seen.allows(namespace, name) == can(grants, user, groups, "get", "sites", namespace, name), (
                namespace,
                name,
            )


def test_no_grant_sees_nothing_and_a_cluster_wide_grant_sees_everything() -> None:
    assert visibility([], "erin", [], "sites").nothing
    admin = Row("Group", "system:masters", None, "sites", ("*",), ())
    assert visibility([admin], "admin", ["system:masters"], "sites").everything
