"""Derived statement periods: trailing twelve months from quarterlies.

Pure functions over the canonical model; nothing here fetches, caches or stores.
"""

from __future__ import annotations

from itertools import pairwise

from .canonical import FLOW_LINES, Figure, PeriodType, StatementPeriod

# Consecutive fiscal quarters end 3 months apart; 52/53-week years move the dates by days.
QUARTER_GAP_DAYS = (75, 105)


def trailing_twelve_months(quarterlies: list[StatementPeriod]) -> StatementPeriod | None:
    """The TTM period ending at the latest quarter, or None when it cannot be built honestly.

    Flows are the sum of the four latest quarters and exist only when all four report the
    line; stocks are the latest quarter's. Provenance names every quarter used, newest first:
    `TTM(INCOME_STATEMENT.totalRevenue@2022-03-31,...)`. None when there are fewer than four
    quarters, when the four latest are not consecutive, or when they mix currencies.
    """
    by_end = {p.fiscal_date_ending: p for p in quarterlies if p.period_type == PeriodType.quarterly}
    latest = [by_end[end] for end in sorted(by_end, reverse=True)[:4]]
    if len(latest) < 4:
        return None
    low, high = QUARTER_GAP_DAYS
    if not all(
        low <= (newer.fiscal_date_ending - older.fiscal_date_ending).days <= high for newer, older in pairwise(latest)
    ):
        return None
    if len({p.currency for p in latest}) != 1:
        return None
    newest = latest[0]
    figures: dict[str, Figure] = {}
    for line in sorted(set().union(*(p.figures for p in latest))):
        if line not in FLOW_LINES:
            if line in newest.figures:
                figures[line] = newest.figures[line]
            continue
        parts = [p.figures.get(line) for p in latest]
        if any(part is None for part in parts):
            continue
        present = [part for part in parts if part is not None]
        snapshots = {part.snapshot_id for part in present}
        figures[line] = Figure(
            value=sum(part.value for part in present),
            source="TTM("
            + ",".join(
                f"{part.source}@{p.fiscal_date_ending.isoformat()}" for part, p in zip(present, latest, strict=True)
            )
            + ")",
            snapshot_id=snapshots.pop() if len(snapshots) == 1 else None,
        )
    return StatementPeriod(
        period_type=PeriodType.ttm,
        fiscal_date_ending=newest.fiscal_date_ending,
        currency=newest.currency,
        figures=figures,
    )
