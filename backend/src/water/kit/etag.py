"""ETag / If-None-Match for read endpoints: the tag is a hash of the response body.

`render_json` makes the body and its tag once; `respond` answers a request with them (a 304
when the client already holds that tag). An endpoint that keeps rendered bodies (`RenderedBodies`)
calls the two apart; `etag_json` is both in one.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, NamedTuple

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel


class Rendered(NamedTuple):
    """A JSON response body and its ETag (quoted, as sent)."""

    body: bytes
    etag: str


def render_json(payload: Any) -> Rendered:
    if isinstance(payload, BaseModel):
        # pydantic-core serialises in Rust: ~1.3 ms for the 84 KB financials payload against ~8-15 ms for
        # jsonable_encoder + json.dumps. Field order is fixed by the schema, so the tag stays deterministic.
        body = payload.model_dump_json(by_alias=True).encode()  # as jsonable_encoder (by_alias)
    else:
        body = json.dumps(jsonable_encoder(payload), separators=(",", ":"), sort_keys=True).encode()
    return Rendered(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def respond(request: Request, rendered: Rendered, *, max_age: int = 0) -> Response:
    headers = {"ETag": rendered.etag, "Cache-Control": f"private, max-age={max_age}"}
    candidates = {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}
    if rendered.etag in candidates or "*" in candidates:
        return Response(status_code=304, headers=headers)
    return Response(content=rendered.body, media_type="application/json", headers=headers)


def etag_json(request: Request, payload: Any, *, max_age: int = 0) -> Response:
    return respond(request, render_json(payload), max_age=max_age)


class RenderedBodies:
    """Rendered bodies in memory, least recently used first out, at most `max_bytes` of bodies.

    The key must name the body's version (e.g. the row's revision), so an entry is never stale:
    a newer version has another key, and the old entry ages out. Used from the event loop only.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[Hashable, Rendered] = OrderedDict()

    def get(self, key: Hashable) -> Rendered | None:
        rendered = self._entries.get(key)
        if rendered is not None:
            self._entries.move_to_end(key)
        return rendered

    def put(self, key: Hashable, rendered: Rendered) -> None:
        if len(rendered.body) > self.max_bytes // 4:
            return  # one outsized body would push out many ordinary ones
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.size -= len(previous.body)
        self._entries[key] = rendered
        self.size += len(rendered.body)
        while self.size > self.max_bytes:
            _, oldest = self._entries.popitem(last=False)
            self.size -= len(oldest.body)

    def __len__(self) -> int:
        return len(self._entries)
