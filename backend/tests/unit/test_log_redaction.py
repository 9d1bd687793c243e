"""Log redaction: the prefilter never lets a secret through that the full patterns would redact."""

from __future__ import annotations

import random
import string

import pytest

from water.logging import MAY_HOLD_SECRET, SENSITIVE_VALUES, _redact, _redact_text

SECRETS = [
    "Authorization: Bearer abc.def-ghi",
    "authorization: BEARER xyz",
    "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "key wk_abcdefghijklmnopqrstuvwxyz012345",
    "GET /q?function=OVERVIEW&apikey=SECRET123&symbol=IBM",
    "password=hunter2 and TOKEN=abc",
    "Api_Key=XYZ",
]


@pytest.mark.parametrize("text", SECRETS)
def test_secrets_are_redacted(text: str) -> None:
    redacted = _redact_text(text)
    assert redacted != text
    assert "[redacted]" in redacted
    for secret in ("abc.def-ghi", "xyz", "eyJzdWIiOiIxIn0", "wk_abcdefghij", "SECRET123", "hunter2", "XYZ"):
        if secret in text:
            assert secret not in redacted


def test_the_prefilter_admits_every_text_a_pattern_matches() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "._-=&/ :"
    pieces = ["bearer ", "Bearer ", "eyJ", "wk_", "password=", "apikey=", "api_key=", "token=", "TOKEN="]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.5:
            cut = rng.randint(0, len(text))
            text = text[:cut] + rng.choice(pieces) + "".join(rng.choice(alphabet) for _ in range(25)) + text[cut:]
        if any(p.search(text) for p in SENSITIVE_VALUES):
            assert MAY_HOLD_SECRET.search(text), text


def test_sensitive_keys_and_nested_values() -> None:
    event = {"password": "x", "password_policy": "min 12", "nested": {"api_key": "k", "note": "Bearer t0k"}}
    assert _redact(event) == {
        "password": "[redacted]",
        "password_policy": "min 12",
        "nested": {"api_key": "[redacted]", "note": "Bearer [redacted]"},
    }
