"""Seam 3: one error protocol. Each kind of error carries its code, status, detail and
headers; the app's one handler reads only those, so a new kind cannot come out as another
kind's answer, and the API description keeps the 409/422/429 that routes declare."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from quietshop.app import AssembledApp
from quietshop.errors import Conflict, InvalidInput, NotFound, QuietshopError, TooManyAttempts


def test_a_new_kind_of_error_must_name_its_code_and_status() -> None:
    with pytest.raises(TypeError, match="must declare its own `code` and `status_code`"):

        class Forgot(NotFound):  # inherits 404 and "not_found": refused
            pass

    class PaymentRefused(QuietshopError):
        status_code = 402
        code = "payment_refused"

    assert PaymentRefused("card declined").detail() == "card declined"


def test_each_kind_answers_with_its_own_code_status_and_headers(
    assembled: AssembledApp, client: TestClient
) -> None:
    class PaymentRefused(QuietshopError):
        status_code = 402
        code = "payment_refused"

    raised: dict[str, Exception] = {
        "conflict": Conflict("this order is still being placed"),
        "refused": PaymentRefused("card declined"),
        "invalid": InvalidInput("quantity", "must be 1 or more"),
        "slow-down": TooManyAttempts(7),
    }

    @assembled.fastapi.post("/api/v1/test-errors/{kind}")
    def fail(kind: str) -> None:
        raise raised[kind]

    answers = {kind: client.post(f"/api/v1/test-errors/{kind}") for kind in raised}
    assert {k: (r.status_code, r.json()["error"]) for k, r in answers.items()} == {
        "conflict": (409, "conflict"),
        "refused": (402, "payment_refused"),
        "invalid": (400, "invalid_parameter"),
        "slow-down": (429, "too_many_attempts"),
    }
    assert answers["invalid"].json()["detail"] == [
        {"field": "quantity", "message": "must be 1 or more"}
    ]
    assert answers["slow-down"].headers["retry-after"] == "7"


def test_the_description_keeps_what_routes_declare(assembled: AssembledApp) -> None:
    @assembled.fastapi.post(
        "/api/v1/test-orders",
        responses={
            409: {"description": "The same key is still being processed"},
            422: {"description": "The same key came with another body"},
            429: {"description": "Too many attempts"},
        },
    )
    def place(body: dict[str, int]) -> None: ...

    operation = assembled.fastapi.openapi()["paths"]["/api/v1/test-orders"]["post"]
    responses = operation["responses"]
    assert {"400", "404", "409", "413", "422", "429"} <= set(responses)
    assert responses["422"]["description"] == "The same key came with another body"
    error = {"$ref": "#/components/schemas/Error"}
    assert all(responses[c]["content"]["application/json"]["schema"] == error for c in responses
               if c.startswith("4"))  # fmt: skip


def test_fastapis_own_422_is_replaced_by_the_400_actually_sent(assembled: AssembledApp) -> None:
    schema = assembled.fastapi.openapi()
    register = schema["paths"]["/api/v1/auth/register"]["post"]["responses"]
    assert "422" not in register and "400" in register
    assert "HTTPValidationError" not in schema["components"]["schemas"]
