"""The escalation check: a grant may hand out only what its author holds."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from siteplane.api.accessgrant import AccessGrantSpec
from siteplane.domain.access import Author, Permission
from siteplane.rbac.rules import EDIT_VERBS, NAMED_EDIT_VERBS, NAMED_VIEW_VERBS, VIEW_VERBS
from siteplane.reconcile.authorization import describe_escalation, missing_permissions, spec_digest

NAMESPACE = "team"
AUTHOR = Author("alice", groups=("devs", "system:authenticated"))

Held = tuple[str, str, str | None]


class FakeAuthorizer:
    """Allows (verb, resource, None) for every object of the type, (verb, resource, name) for one object."""

    def __init__(self, held: set[Held], namespace: str = NAMESPACE) -> None:
        self.held = held
        self.namespace = namespace
        self.calls: list[tuple[Author, Permission, str]] = []

    async def allowed(self, author: Author, permission: Permission, namespace: str) -> bool:
        self.calls.append((author, permission, namespace))
        if namespace != self.namespace:
            return False
        wholesale = (permission.verb, permission.resource, None) in self.held
        return wholesale or (permission.verb, permission.resource, permission.name) in self.held

    def asked(self) -> Counter[tuple[str, str, str | None]]:
        return Counter((p.verb, p.resource, p.name) for _, p, _ in self.calls)


def spec(resources: list[str], access: str, names: list[str] | None = None) -> AccessGrantSpec:
    body: dict[str, Any] = {"subjects": [{"kind": "User", "name": "bob"}], "resources": resources, "access": access}
    if names is not None:
        body["resourceNames"] = names
    return AccessGrantSpec.model_validate(body)


def holding(verbs: tuple[str, ...], resources: tuple[str, ...], names: tuple[str | None, ...] = (None,)) -> set[Held]:
    return {(verb, resource, name) for verb in verbs for resource in resources for name in names}


# --- missing_permissions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "grant", "expected"),
    [
        pytest.param(holding(EDIT_VERBS, ("sites",)), spec(["sites"], "edit"), [], id="holds-everything"),
        pytest.param(holding(EDIT_VERBS, ("sites",)), spec(["sites"], "view"), [], id="edit-covers-view"),
        pytest.param(
            holding(EDIT_VERBS, ("sites",)), spec(["sites"], "edit", ["www"]), [], id="wholesale-covers-named"
        ),
        pytest.param(
            holding(tuple(v for v in EDIT_VERBS if v != "deletecollection"), ("sites",)),
            spec(["sites"], "edit"),
            [Permission("deletecollection", "sites")],
            id="lacks-one-verb",
        ),
        pytest.param(
            holding(EDIT_VERBS, ("sites",)),
            spec(["sites", "dnsrecords"], "view"),
            [Permission(verb, "dnsrecords") for verb in VIEW_VERBS],
            id="lacks-one-type",
        ),
        pytest.param(set(), spec(["dnszones"], "view"), [Permission(v, "dnszones") for v in VIEW_VERBS], id="nothing"),
        pytest.param(
            holding(NAMED_VIEW_VERBS, ("sites",), ("www", "blog")),
            spec(["sites"], "view", ["www", "blog"]),
            [],
            id="holds-the-names",
        ),
        pytest.param(
            holding(NAMED_VIEW_VERBS, ("sites",), ("www", "blog")),
            spec(["sites"], "view"),
            [Permission(verb, "sites") for verb in VIEW_VERBS],
            id="names-do-not-cover-unnamed",
        ),
        pytest.param(
            holding(NAMED_VIEW_VERBS, ("sites",), ("www",)),
            spec(["sites"], "view", ["www", "blog"]),
            [Permission(verb, "sites", "blog") for verb in NAMED_VIEW_VERBS],
            id="lacks-one-name",
        ),
        pytest.param(
            holding(("get",), ("sites",)) | holding(NAMED_EDIT_VERBS, ("sites",), ("www",)),
            spec(["sites"], "edit", ["www"]),
            [],
            id="mixed-wholesale-and-named",
        ),
    ],
)
def test_missing_permissions(held: set[Held], grant: AccessGrantSpec, expected: list[Permission]) -> None:
    assert asyncio.run(missing_permissions(FakeAuthorizer(held), AUTHOR, grant, NAMESPACE)) == expected


def test_permissions_are_checked_in_the_grant_namespace_for_the_author() -> None:
    authorizer = FakeAuthorizer(holding(EDIT_VERBS, ("sites",)), namespace="elsewhere")
    missing = asyncio.run(missing_permissions(authorizer, AUTHOR, spec(["sites"], "view"), NAMESPACE))
    assert missing == [Permission(verb, "sites") for verb in VIEW_VERBS]
    assert authorizer.calls
    assert all(author == AUTHOR and namespace == NAMESPACE for author, _, namespace in authorizer.calls)


def test_wholesale_holder_costs_one_check_per_verb_and_type() -> None:
    authorizer = FakeAuthorizer(holding(EDIT_VERBS, ("sites", "dnszones")))
    grant = spec(["sites", "dnszones"], "edit", ["a", "b", "c"])
    assert asyncio.run(missing_permissions(authorizer, AUTHOR, grant, NAMESPACE)) == []
    assert authorizer.asked() == Counter(
        {(verb, resource, None): 1 for verb in NAMED_EDIT_VERBS for resource in ("sites", "dnszones")}
    )


def test_names_are_asked_only_where_the_wholesale_check_failed() -> None:
    # Holds get and list on every site, the rest only on www and blog.
    held = holding(("get", "list"), ("sites",)) | holding(NAMED_EDIT_VERBS, ("sites",), ("www", "blog"))
    authorizer = FakeAuthorizer(held)
    grant = spec(["sites"], "edit", ["www", "blog"])
    assert asyncio.run(missing_permissions(authorizer, AUTHOR, grant, NAMESPACE)) == []
    assert authorizer.asked() == Counter(
        {
            **{(verb, "sites", None): 1 for verb in NAMED_EDIT_VERBS},
            **{
                (verb, "sites", name): 1
                for verb in NAMED_EDIT_VERBS
                if verb not in ("get", "list")
                for name in ("www", "blog")
            },
        }
    )


def test_unnamed_grant_never_asks_by_name() -> None:
    authorizer = FakeAuthorizer(holding(("get",), ("sites",), ("www",)))
    missing = asyncio.run(missing_permissions(authorizer, AUTHOR, spec(["sites"], "view"), NAMESPACE))
    assert missing == [Permission(verb, "sites") for verb in VIEW_VERBS]
    assert all(p.name is None for _, p, _ in authorizer.calls)
    assert len(authorizer.calls) == len(VIEW_VERBS)


# --- describe_escalation -----------------------------------------------------------------------


def test_describe_escalation_names_the_author_and_what_they_lack() -> None:
    message = describe_escalation(AUTHOR, [Permission("delete", "sites"), Permission("get", "sites", "www")], "team")
    assert "alice" in message
    assert "delete sites in namespace team" in message
    assert "get sites/www in namespace team" in message
    assert "more)" not in message


@pytest.mark.parametrize(
    ("count", "more"),
    [
        pytest.param(1, None, id="one"),
        pytest.param(5, None, id="five"),
        pytest.param(6, "(and 1 more)", id="six"),
        pytest.param(8, "(and 3 more)", id="eight"),
    ],
)
def test_describe_escalation_shows_five_and_counts_the_rest(count: int, more: str | None) -> None:
    missing = [Permission("get", "sites", f"site-{i}") for i in range(count)]
    message = describe_escalation(AUTHOR, missing, "team")
    assert message.startswith("alice ")
    assert "get sites/site-0 in namespace team" in message
    shown = min(count, 5)
    assert all(f"sites/site-{i} " in message for i in range(shown))
    assert not any(f"sites/site-{i} " in message for i in range(shown, count))
    if more is None:
        assert "more)" not in message
    else:
        assert more in message


def test_author_from_userinfo() -> None:
    author = Author.from_userinfo(
        {
            "username": "system:serviceaccount:ci:bot",
            "uid": "u1",
            "groups": ["system:serviceaccounts"],
            "extra": {"k": ["v"]},
        }
    )
    assert author == Author("system:serviceaccount:ci:bot", ("system:serviceaccounts",), "u1", {"k": ("v",)})
    assert Author.from_userinfo({}) == Author("")


# --- spec_digest -------------------------------------------------------------------------------


def test_spec_digest_is_stable_under_key_order() -> None:
    one = {"access": "view", "resources": ["sites"], "subjects": [{"kind": "User", "name": "bob"}]}
    other = {"subjects": [{"name": "bob", "kind": "User"}], "resources": ["sites"], "access": "view"}
    assert spec_digest(one) == spec_digest(other)
    assert spec_digest(one) == spec_digest(dict(one))


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({"access": "edit"}, id="access"),
        pytest.param({"resources": ["sites", "dnszones"]}, id="resources"),
        pytest.param({"resources": ["dnszones"]}, id="other-resource"),
        pytest.param({"subjects": [{"kind": "Group", "name": "bob"}]}, id="subject-kind"),
        pytest.param({"resourceNames": ["www"]}, id="names-added"),
    ],
)
def test_spec_digest_differs_for_different_specs(changed: dict[str, Any]) -> None:
    base = {"access": "view", "resources": ["sites"], "subjects": [{"kind": "User", "name": "bob"}]}
    assert spec_digest(base) != spec_digest({**base, **changed})
