from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from ..kit.schemas import ReadSchema, Schema
from ..models.valuation_run import RunStatus


class Method(enum.StrEnum):
    fcff_ginzu = "fcff_ginzu"
    fcff_explicit = "fcff_explicit"
    fcfe = "fcfe"
    ddm = "ddm"
    comparables = "comparables"
    reverse_dcf = "reverse_dcf"
    sensitivity = "sensitivity"
    scenarios = "scenarios"
    monte_carlo = "monte_carlo"
    football_field = "football_field"


VALUE_METHODS = (Method.fcff_ginzu, Method.fcff_explicit, Method.fcfe, Method.ddm, Method.comparables)
ANALYSES = (Method.reverse_dcf, Method.sensitivity, Method.scenarios, Method.monte_carlo)

Assumptions = Annotated[
    dict[str, dict[str, Any]],
    Field(
        default_factory=dict,
        description="Per method: engine inputs to use instead of the defaults (see docs/valuations.md). "
        "Analyses take `base_method` and their own fields (rows/columns, drivers, scenarios...).",
    ),
]


class ValuationRunCreate(Schema):
    methods: Annotated[list[Method], Field(min_length=1, max_length=10)]
    assumptions: Assumptions
    conventions: Annotated[
        dict[str, dict[str, Any]], Field(default_factory=dict, description="Per method: engine conventions")
    ]

    @field_validator("methods")
    @classmethod
    def _unique(cls, methods: list[Method]) -> list[Method]:
        if len(set(methods)) != len(methods):
            raise ValueError("each method may appear once")
        return methods


class DefaultApplied(BaseModel):
    path: str
    value: Any
    source: str


class ValuationRunRead(ReadSchema):
    id: uuid.UUID
    company_id: uuid.UUID
    status: RunStatus
    methods: list[str]
    assumptions: dict[str, Any]
    defaults_applied: list[DefaultApplied]
    snapshot_ids: list[uuid.UUID]
    input_hash: str
    engine_version: str
    value_per_share: float | None
    equity_value: float | None
    enterprise_value: float | None
    price: float | None
    upside: float | None
    error: dict[str, Any] | None
    rerun_of_id: uuid.UUID | None
    created_by_id: uuid.UUID | None
    request_id: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    compute_ms: float | None


class ValuationRunDetail(ValuationRunRead):
    requests: dict[str, Any]
    result: dict[str, Any] | None


class VerifyRead(BaseModel):
    run_id: uuid.UUID
    identical: bool
    engine_version_then: str
    engine_version_now: str
    differences: list[dict[str, Any]]


class CompareRead(BaseModel):
    a: uuid.UUID
    b: uuid.UUID
    assumptions: list[dict[str, Any]]
    snapshots: dict[str, list[str]]
    outputs: list[dict[str, Any]]
