"""Building status conditions: lastTransitionTime moves only when a condition's status changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class ConditionChange:
    """What the operator concluded about one condition type."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    existing: Iterable[Mapping[str, Any]],
    changes: Iterable[ConditionChange],
    generation: int | None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The new conditions list: ``changes`` applied over ``existing``, other types kept as they are."""
    now = now or datetime.now(UTC)
    by_type: dict[str, dict[str, Any]] = {c["type"]: dict(c) for c in existing if "type" in c}
    for change in changes:
        previous = by_type.get(change.type)
        unchanged = previous is not None and previous.get("status") == change.status
        by_type[change.type] = {
            "type": change.type,
            "status": change.status,
            "reason": change.reason,
            "message": change.message,
            "lastTransitionTime": previous["lastTransitionTime"] if unchanged and previous else _timestamp(now),
            "observedGeneration": generation,
        }
    return list(by_type.values())


def status_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The status fields of ``desired`` that differ from ``current``; empty when nothing changed.

    Writing status only when it changes keeps API writes per object low: a resync or a restart of
    the operator over unchanged objects then writes nothing at all.
    """
    return {key: value for key, value in desired.items() if current.get(key) != value}


def describe_validation_error(error: ValidationError, prefix: str = "spec") -> str:
    """One line per problem, each naming the offending field the way kubectl users spell it."""
    lines = []
    for problem in error.errors():
        path = prefix
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return "; ".join(lines)
