"""What a person may see of one kind, from their grant rows: the evaluator's rule (evaluator.py),
turned from a yes/no per object into a description the store can put into a query."""

from __future__ import annotations

from collections.abc import Iterable

from siteplane.domain.access import Visibility
from siteplane.rbac.evaluator import GrantLike, subject_matches
from siteplane.rbac.rules import WILDCARD

VERB = "get"


def visibility(grants: Iterable[GrantLike], user: str, groups: Iterable[str], resource_type: str) -> Visibility:
    """The objects of ``resource_type`` that ``user`` (in ``groups``) may ``get``.

    The same decision as ``can(grants, user, groups, "get", resource_type, namespace, name)`` for
    every object: a grant counts when its subject matches, it is on this type, and it holds ``get``
    (or ``*``); a cluster-wide grant covers every namespace; one limited to names, only those names.
    """
    groups = frozenset(groups)
    everything = False
    namespaces: set[str] = set()
    named: set[tuple[str | None, str]] = set()
    for grant in grants:
        if grant.resource_type != resource_type or not subject_matches(grant, user, groups):
            continue
        verbs = set(grant.verbs)
        if VERB not in verbs and WILDCARD not in verbs:
            continue
        names = set(grant.resource_names)
        if names:
            named |= {(grant.namespace, name) for name in names}
        elif grant.namespace is None:
            everything = True
        else:
            namespaces.add(grant.namespace)
    if everything:
        return Visibility(everything=True)
    return Visibility(False, frozenset(namespaces), frozenset(n for n in named if n[0] not in namespaces))
