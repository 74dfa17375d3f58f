import json

from azt.errors import ApiError, internal_error


def test_openai_shape_with_detail() -> None:
    error = ApiError(404, "no such model", code="model_not_found", param="model")
    assert json.loads(error.body_bytes()) == {
        "error": {
            "message": "no such model",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        },
        "detail": "no such model",
    }


def test_type_follows_status_unless_named() -> None:
    assert ApiError(401, "x").error_type == "authentication_error"
    assert ApiError(429, "x").error_type == "rate_limit_error"
    assert ApiError(502, "x").error_type == "server_error"
    assert ApiError(429, "x", type="usage_limit_reached").error_type == "usage_limit_reached"


def test_extra_fields_join_the_error_object() -> None:
    body = ApiError(429, "limit", extra={"resets_at": 5}).body()
    assert body["error"]["resets_at"] == 5


def test_internal_error_says_where_to_look() -> None:
    error = internal_error("routing")
    assert error.status == 500 and "log" in error.message and error.code == "internal_error"
