"""ETag / If-None-Match for read endpoints: the tag is a hash of the response body."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel


def etag_json(request: Request, payload: Any, *, max_age: int = 0) -> Response:
    if isinstance(payload, BaseModel):
        # pydantic-core serialises in Rust: ~1.3 ms for the 84 KB financials payload against ~8-15 ms for
        # jsonable_encoder + json.dumps. Field order is fixed by the schema, so the tag stays deterministic.
        body = payload.model_dump_json(by_alias=True).encode()  # as jsonable_encoder (by_alias)
    else:
        body = json.dumps(jsonable_encoder(payload), separators=(",", ":"), sort_keys=True).encode()
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": f"private, max-age={max_age}"}
    candidates = {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}
    if tag in candidates or "*" in candidates:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)
