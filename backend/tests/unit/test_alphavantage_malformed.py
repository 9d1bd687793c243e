"""Malformed Alpha Vantage answers: a classified market-data error, never a KeyError or a TypeError.

Every recorded data response (../shared/fixtures/alphavantage) is mutated, seeded: one to four
values replaced by what a drifting API could send ("None", "-", "1e999", a list where a number was,
a date that does not exist), keys dropped or added, or the whole body replaced by a string or a
number. The three statements are mapped together as a refresh maps them. Each answer must parse
(skipping what it cannot read) or raise a WaterError, which the API turns into a problem detail.
A mutated list where a list of reports belongs (`"annualEarnings": 1.0`) once raised TypeError.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from water.errors import WaterError
from water.market_data.errors import ProviderUnavailable
from water.market_data.providers import alphavantage as av
from water.market_data.providers.base import ProviderRequest, RawResponse

from ..fakes.fixtures import require_recordings

PARSERS: dict[str, Callable[[RawResponse], Any]] = {
    "SYMBOL_SEARCH": av.parse_symbol_search,
    "OVERVIEW": av.parse_overview,
    "GLOBAL_QUOTE": av.parse_quote,
    "TIME_SERIES_DAILY": av.parse_daily_series,
    "TIME_SERIES_DAILY_ADJUSTED": av.parse_daily_series,
    "EARNINGS": av.parse_earnings,
    "DIVIDENDS": av.parse_dividends,
    "SPLITS": av.parse_splits,
    "TREASURY_YIELD": av.parse_treasury_yield,
}
STATEMENTS = ("INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW")
ODD_VALUES: list[Any] = [
    None, "None", "", "-", "abc", "1e999", "NaN", "-Infinity", 0, -1, 1e308, [], {}, "2024-13-45", "0000-00-00",
    "12%", "%", True, "1,234", " 12 ", "-0", "1e-400", 10**30,
]  # fmt: skip
ODD_BODIES: list[Any] = [[], "x", 1, None, {"Information": 12}, {"Note": None}, {"Error Message": []}]


def test_mutated_recorded_answers_parse_or_raise_a_market_data_error() -> None:
    folder = require_recordings()
    entries = [e for e in json.loads((folder / "manifest.json").read_text())["responses"] if e.get("kind") == "data"]
    singles = [e for e in entries if e["query"]["function"] in PARSERS and e["file"].endswith(".json")]
    statements = _statement_sets(entries)
    rng = random.Random(20261126)
    outcomes = {"parsed": 0, "classified": 0}
    for _ in range(1500):
        if rng.random() < 0.25:
            symbol = rng.choice(sorted(statements))
            answers = [
                (statements[symbol][f], _maybe_mutated(folder / statements[symbol][f]["file"], rng)) for f in STATEMENTS
            ]
            parse: Callable[[], Any] = lambda answers=answers: av.map_statements(*(_raw(e, b) for e, b in answers))  # noqa: E731
        else:
            entry = rng.choice(singles)
            body = _mutated_body(json.loads((folder / entry["file"]).read_text()), rng)
            parse = lambda entry=entry, body=body: PARSERS[entry["query"]["function"]](_raw(entry, body))  # noqa: E731
        try:
            parse()
            outcomes["parsed"] += 1
        except WaterError:
            outcomes["classified"] += 1
        # Anything else (KeyError, TypeError, AttributeError, ...) fails the test here.
    assert min(outcomes.values()) > 100, outcomes


def test_a_report_list_that_is_not_a_list_is_an_unexpected_answer() -> None:
    body = json.dumps({"symbol": "IBM", "annualEarnings": 1.0, "quarterlyEarnings": []}).encode()
    with pytest.raises(ProviderUnavailable, match="annualEarnings is not a list"):
        av.parse_earnings(_raw({"query": {"function": "EARNINGS", "symbol": "IBM"}}, body))


def _statement_sets(entries: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    by_symbol: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in entries:
        if entry["query"]["function"] in STATEMENTS:
            by_symbol.setdefault(entry["query"]["symbol"], {})[entry["query"]["function"]] = entry
    return {symbol: found for symbol, found in by_symbol.items() if len(found) == len(STATEMENTS)}


def _maybe_mutated(path: Path, rng: random.Random) -> bytes:
    data = json.loads(path.read_text())
    return _mutated_body(data, rng) if rng.random() < 0.5 else json.dumps(data).encode()


def _mutated_body(data: Any, rng: random.Random) -> bytes:
    if rng.random() < 0.05:
        return json.dumps(rng.choice(ODD_BODIES)).encode()
    mutated = copy.deepcopy(data)
    places = list(_places(mutated))
    for _ in range(rng.randint(1, 4)):
        container, key = rng.choice(places)
        if key not in container if isinstance(container, dict) else key >= len(container):
            continue  # removed by an earlier mutation
        roll = rng.random()
        if roll < 0.2 and isinstance(container, dict):
            del container[key]
        elif roll < 0.3 and isinstance(container, dict):
            container[f"zz {rng.random()}"] = rng.choice(ODD_VALUES)
        else:
            container[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    return json.dumps(mutated).encode()


def _places(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value inside `value`."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield value, key
        yield from _places(item)


def _raw(entry: dict[str, Any], body: bytes) -> RawResponse:
    """The answer as the transport hands it on: classified first (an error body raises here)."""
    query = entry["query"]
    request = ProviderRequest.of(
        "alphavantage", query["function"], **{k: v for k, v in query.items() if k != "function"}
    )
    payload = av.classify_response(request, status=200, content_type="application/json", body=body)
    return RawResponse(
        request=request, body=body, content_type="application/json", fetched_at=datetime.now(UTC), payload=payload
    )
