"""GET /api/v1/events: the live updates, as server-sent events (``dashboard/live.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, StreamingResponse

from siteplane.dashboard.context import CallerDep, only
from siteplane.dashboard.live import RETRY_MS, LiveChange, LiveFeed, inline_schema, live_feed, resume_point
from siteplane.dashboard.problems import ProblemError, problem_response
from siteplane.errors import SiteplaneError

router = APIRouter(prefix="/api/v1", tags=["events"])
EVENT_STREAM = "text/event-stream"
DESCRIPTION = f"""\
A stream of the changes the caller may see: every change of an object's Ready, and every
deletion, of the Sites, DNSZones, DNSRecords and AccessGrants the caller may `get`; nothing of the
rest. Read it with `fetch()` (a browser's EventSource cannot send the Authorization header; never
put a token in a URL).

* `event: open`, `id: <n>`: the stream starts after change `n` (data: `{{"resumed": bool}}`).
* `event: change`, `id: <change id>`, data: `{{kind, namespace, name, ready: {{status, reason}} | null,
  deleted, at, history: {{id, at, action, author, generation, zone, serial, detail}} | null}}`.
* `: keep-alive` comments when nothing else was sent for a while.
* `event: reload` (data: `{{reason, detail}}`), then the stream ends: the client is too far behind,
  or asked to resume from an id the feed does not hold. Load the lists again and open a new stream
  without `Last-Event-ID`.

Resume after a disconnect with `Last-Event-ID: <last id received>` (or `?since=<id>`): exactly the
changes missed are sent first. Reconnect after `retry` ({RETRY_MS} ms) or more.

The data of `event: change`, as JSON Schema: `x-event-data` of the 200 response's content.
"""
RETRY_AFTER = "5"


@router.get(
    "/events",
    response_class=StreamingResponse,
    response_model=None,
    dependencies=[Depends(only("since"))],
    description=DESCRIPTION,
    responses={
        200: {
            "content": {
                EVENT_STREAM: {"schema": {"type": "string"}, "x-event-data": {"change": inline_schema(LiveChange)}}
            },
            "description": "The event stream",
        },
        503: {"description": "This replica streams to all the clients it may (Retry-After), or the database is down"},
    },
)
async def events(
    who: CallerDep,
    feed: Annotated[LiveFeed, Depends(live_feed)],
    since: Annotated[int | None, Query(ge=0, le=2**62, description="Resume after this change id")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> StreamingResponse | JSONResponse:
    try:
        start = resume_point(last_event_id, since)
    except ValueError as error:
        raise ProblemError(400, str(error)) from None
    if feed.full():
        detail = "this replica streams to as many clients as it may; try again later"
        return problem_response(503, detail, headers={"Retry-After": RETRY_AFTER})
    try:
        scope = await feed.scope(who)
    except SiteplaneError:
        raise ProblemError(503, "the application database does not answer; try again") from None

    async def body() -> AsyncIterator[bytes]:
        # Subscribed when the response starts, so a stream never started leaves nothing behind.
        client = feed.subscribe(who, scope)
        async for chunk in feed.stream(client, start):
            yield chunk

    return StreamingResponse(
        body(),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
