"""Error bodies of the service: valid JSON and bounded whatever the request held."""

from __future__ import annotations

import json
import math

from retrain_platform.serving.errors import (
    MAX_ERRORS,
    field_path,
    safe_value,
    validation_body,
)


def _strict(text: str) -> object:
    """Parse as RFC 8259 JSON: NaN and Infinity literals are an error."""

    def refuse(token: str) -> None:
        msg = f"non-compliant JSON literal {token}"
        raise ValueError(msg)

    return json.loads(text, parse_constant=refuse)


def test_non_finite_inputs_are_echoed_as_text_and_the_body_is_strict_json():
    errors = [
        {
            "loc": ("body", "rows", 0, "amount"),
            "msg": "finite",
            "type": "finite_number",
            "input": math.nan,
        },
        {
            "loc": ("body", "rows", 1, "amount"),
            "msg": "finite",
            "type": "finite_number",
            "input": math.inf,
            "ctx": {"ge": 0.0, "error": ValueError("bad")},
        },
        {
            "loc": ("body", "entities", 0, "card_id"),
            "msg": "int",
            "type": "int_type",
            "input": {"card_id": -math.inf, "x": [math.nan]},
        },
    ]
    body = validation_body(errors)
    parsed = _strict(json.dumps(body, allow_nan=False))
    detail = parsed["detail"]
    assert [d["field"] for d in detail] == [
        "rows[0].amount",
        "rows[1].amount",
        "entities[0].card_id",
    ]
    assert detail[0]["input"] == "nan" and detail[1]["input"] == "inf"
    assert detail[1]["ctx"] == {"ge": 0.0, "error": "bad"}
    assert isinstance(detail[2]["input"], str) and "NaN" in detail[2]["input"]


def test_echoed_inputs_and_error_counts_are_bounded():
    huge = "x" * 1_000_000
    errors = [
        {"loc": ("body", "rows", i, "merchant_category"), "msg": "m", "type": "t", "input": huge}
        for i in range(MAX_ERRORS + 50)
    ]
    body = validation_body(errors)
    assert len(body["detail"]) == MAX_ERRORS and body["more_errors"] == 50
    assert len(body["detail"][0]["input"]) < 250
    assert body["detail"][0]["input"].endswith("[1000000 chars]")
    assert len(json.dumps(body)) < 100 * 600


def test_safe_values_keep_json_scalars():
    assert [safe_value(v) for v in (None, True, 3, -1.5, "ok")] == [None, True, 3, -1.5, "ok"]
    assert safe_value(10**400).endswith("chars]")  # an int no JSON reader keeps exactly
    assert field_path(["body"]) == "body"
    assert field_path(["body", "rows"]) == "rows"
    assert field_path(["query", "x"]) == "query.x"
