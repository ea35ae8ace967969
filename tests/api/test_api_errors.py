"""Errors come back as OpenAI-style 4xx envelopes; every response carries a request id."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from server_support import LiveServer, StartServer

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"


def png_bytes(width: int = 64, height: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 50, 50)).save(buf, "PNG")
    return buf.getvalue()


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_success_response_has_request_id_when_generation_succeeds(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "size": "256x256"})
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")


def test_error_response_has_request_id_when_request_invalid(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "size": "100x100"})
    assert response.headers["x-request-id"].startswith("req_")


def test_error_response_is_json_when_request_invalid(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "model": "nope"})
    assert response.headers["content-type"].startswith("application/json")


def test_request_ids_differ_when_two_requests(http: httpx.Client) -> None:
    first = http.get("/healthz").headers["x-request-id"]
    second = http.get("/healthz").headers["x-request-id"]
    assert first != second


def test_generation_rejects_unknown_model_with_param_model(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "model": "no-such-model"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "model"


def test_generation_rejects_unknown_model_as_invalid_request(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "model": "no-such-model"})
    assert error_of(response)["type"] == "invalid_request_error"


def test_generation_rejects_bad_size_with_param_size(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "size": "100x100"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "size"


def test_generation_rejects_n_when_above_ten(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "n": 11, "size": "256x256"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "n"


@pytest.mark.parametrize(
    ("field", "value"), [("n", "abc"), ("prompt", 123), ("stream", "maybe"), ("seed", -1)]
)
def test_generation_rejects_field_when_wrong_type(
    http: httpx.Client, field: str, value: object
) -> None:
    body = {"prompt": "a cat", "size": "256x256", field: value}
    response = http.post(GENERATIONS, json=body)
    assert response.status_code == 400
    assert error_of(response)["param"] == field


def test_generation_rejects_missing_prompt_with_missing_code(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"size": "256x256"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "missing_required_parameter"


def test_generation_rejects_unknown_field_when_not_in_schema(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json={"prompt": "a cat", "colour": "blue"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "colour"


def test_generation_rejects_body_when_json_malformed(http: httpx.Client) -> None:
    response = http.post(
        GENERATIONS, content=b'{"prompt": "a cat",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid_request_error"


def test_generation_rejects_body_when_json_is_not_an_object(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json=["a cat"])
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid_request_error"


def test_edit_rejects_request_when_no_image(http: httpx.Client) -> None:
    response = http.post(EDITS, data={"prompt": "warmer"}, files={"other": ("x.txt", b"x")})
    assert response.status_code == 400
    assert error_of(response)["code"] == "missing_required_parameter"


def test_edit_rejects_text_file_as_unsupported_image_format(http: httpx.Client) -> None:
    files = {"image": ("notes.txt", b"just some text, not an image", "text/plain")}
    response = http.post(EDITS, data={"prompt": "warmer"}, files=files)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_image_format"


def test_edit_rejects_truncated_png_with_envelope(http: httpx.Client) -> None:
    files = {"image": ("cut.png", png_bytes()[:60], "image/png")}
    response = http.post(EDITS, data={"prompt": "warmer"}, files=files)
    assert 400 <= response.status_code < 500
    assert error_of(response)["param"] == "image[0]"


def test_edit_rejects_garbage_multipart_body_with_envelope(http: httpx.Client) -> None:
    response = http.post(
        EDITS,
        content=b"\x00\x01garbage that is not multipart\xff" * 10,
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert 400 <= response.status_code < 500
    assert error_of(response)["type"] == "invalid_request_error"


def test_edit_rejects_multipart_without_boundary_with_envelope(http: httpx.Client) -> None:
    response = http.post(
        EDITS, content=b"prompt=x", headers={"content-type": "multipart/form-data"}
    )
    assert 400 <= response.status_code < 500
    assert error_of(response)["type"] == "invalid_request_error"


def test_edit_rejects_mask_when_dimensions_differ(http: httpx.Client) -> None:
    files = [
        ("image", ("in.png", png_bytes(64, 64), "image/png")),
        ("mask", ("mask.png", png_bytes(32, 32), "image/png")),
    ]
    response = http.post(EDITS, data={"prompt": "warmer", "size": "256x256"}, files=files)
    assert response.status_code == 400
    assert error_of(response)["code"] == "mask_dimension_mismatch"


def test_edit_rejects_bad_form_field_with_param(http: httpx.Client) -> None:
    files = {"image": ("in.png", png_bytes(), "image/png")}
    response = http.post(EDITS, data={"prompt": "warmer", "output_format": "bmp"}, files=files)
    assert response.status_code == 400
    assert error_of(response)["param"] == "output_format"


def test_oversized_body_is_rejected_with_413(make_server: StartServer) -> None:
    live = make_server(max_request_bytes=10_000)
    body = {"prompt": "x" * 20_000}
    response = httpx.post(f"{live.base_url}{GENERATIONS}", json=body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_oversized_body_response_has_request_id(make_server: StartServer) -> None:
    live = make_server(max_request_bytes=10_000)
    response = httpx.post(f"{live.base_url}{GENERATIONS}", json={"prompt": "x" * 20_000})
    assert response.headers["x-request-id"].startswith("req_")


def test_oversized_chunked_body_is_rejected_with_413(make_server: StartServer) -> None:
    live = make_server(max_request_bytes=10_000)

    def chunks() -> Iterator[bytes]:
        # The oversized field is also invalid, so a server that lets it through answers 400
        # at once instead of rendering a huge prompt.
        yield b'{"prompt": "a cat", "size": "256x256", "user": "'
        for _ in range(20):
            yield b"x" * 1_000
        yield b'"}'

    response = httpx.post(
        f"{live.base_url}{GENERATIONS}",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_unknown_route_returns_404_envelope(http: httpx.Client) -> None:
    response = http.get("/v1/no/such/route")
    assert response.status_code == 404
    assert error_of(response)["type"] == "not_found_error"


def test_get_on_post_only_route_returns_405_envelope(http: httpx.Client) -> None:
    response = http.get(GENERATIONS)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_unknown_model_read_returns_404_model_not_found(http: httpx.Client) -> None:
    response = http.get("/v1/models/no-such-model")
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"
