"""Metadata and export over HTTP: import settings from any tool's image, an asset's sidecar,
exports (format, quality, background, re-signed), gallery zips (ids or filter, only your
own, streamed), and what never leaves: prompt text when prompt metadata is off, secrets."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from metadata_samples import A1111_PROMPT, a1111_png, comfy_png, png_with
from pixelforge.postprocess import provenance
from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine

PROMPT = "a quokka-7781 lighthouse in periwinkle"
NEGATIVE = "drizzle-5521"


def make_asset(client: httpx.Client, prompt: str = PROMPT, model: str = "zero",
               **fields: Any) -> str:  # fmt: skip
    body = {"prompt": prompt, "model": model, "size": "256x256", "seed": 7,
            "negative_prompt": NEGATIVE, **fields}  # fmt: skip
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] == "succeeded":
            return str(view["assets"][0])
        assert view["status"] in ("queued", "running"), view
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {view}")


def engines() -> list[ZeroWorkEngine]:
    return [ZeroWorkEngine(), ZeroWorkEngine("other"), ZeroWorkEngine("sd_xl_base_1.0")]


@pytest.fixture
def live(make_server: StartServer) -> LiveServer:
    return make_server(engines=engines(), rate_limit_per_minute=0)


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def error(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["param"]


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


# -- import ---------------------------------------------------------------------------------


def test_import_reads_a1111_settings_and_maps_the_served_model(http: httpx.Client) -> None:
    response = http.post("/api/metadata/import", files={"image": ("a.png", a1111_png())})

    assert response.status_code == 200
    record = response.json()
    assert (record["source"], record["prompt"], record["seed"]) == ("a1111", A1111_PROMPT,
                                                                    1234567890)  # fmt: skip
    assert record["request"]["model"] == "sd_xl_base_1.0"
    assert "options" not in record["request"]  # the served model takes none
    assert record["raw"]["parameters"].startswith("masterpiece")


def test_import_of_a_pixelforge_output_runs_again_with_the_same_settings(
    http: httpx.Client,
) -> None:
    first = make_asset(http)
    data = http.get(f"/api/assets/{first}/file").content

    request = http.post("/api/metadata/import", files={"image": ("x.png", data)}).json()["request"]
    again = make_asset(http, **request)

    view = http.get(f"/api/assets/{again}").json()
    assert request == {"prompt": PROMPT, "negative_prompt": NEGATIVE, "seed": 7,
                       "size": "256x256", "model": "zero", "output_format": "png"}  # fmt: skip
    assert (view["prompt"], view["seed"], view["model"]) == (PROMPT, 7, "zero")


def test_import_of_malformed_metadata_is_a_partial_record_not_an_error(
    http: httpx.Client,
) -> None:
    broken = png_with({"prompt": '{"3": {"class_type": "KSampler", "inputs": {"seed": 1'})

    response = http.post("/api/metadata/import", files={"image": ("b.png", broken)})

    assert response.status_code == 200
    assert response.json()["source"] == "comfyui"
    assert response.json()["warnings"][0].startswith("prompt: not valid JSON")


def test_import_names_the_model_it_cannot_serve(http: httpx.Client) -> None:
    record = http.post("/api/metadata/import", files={"image": ("c.png", comfy_png())}).json()

    assert "model" not in record["request"]
    assert any("v1-5-pruned-emaonly.safetensors" in w for w in record["warnings"])


@pytest.mark.parametrize(
    ("files", "status"),
    [({"image": ("x.gif", b"GIF89a-------")}, 415), ({"other": ("x.png", b"...")}, 400)],
)
def test_import_refuses_bad_upload_naming_image(
    http: httpx.Client, files: dict[str, Any], status: int
) -> None:
    response = http.post("/api/metadata/import", files=files)

    assert error(response) == (status, "image")


def test_import_refuses_file_over_the_upload_limit(make_server: StartServer) -> None:
    live = make_server(engines=engines(), max_upload_bytes=1000)
    big = png_with({"parameters": "x" * 5000})

    response = httpx.post(f"{live.base_url}/api/metadata/import", files={"image": ("b.png", big)})

    assert error(response) == (413, "image")


# -- sidecar and export ---------------------------------------------------------------------


def test_metadata_is_the_sidecar_of_the_stored_file(http: httpx.Client) -> None:
    asset_id = make_asset(http)
    data = http.get(f"/api/assets/{asset_id}/file").content

    sidecar = http.get(f"/api/assets/{asset_id}/metadata").json()

    assert sidecar["sha256"] == hashlib.sha256(data).hexdigest()
    assert (sidecar["prompt"], sidecar["negative_prompt"], sidecar["seed"]) == (PROMPT, NEGATIVE, 7)
    assert sidecar["asset"]["id"] == asset_id
    assert sidecar["file"] == f"{asset_id}.png"
    assert sidecar["parameters"].startswith(f"{PROMPT}\nNegative prompt: {NEGATIVE}\nSeed: 7")
    assert sidecar["request"]["model"] == "zero"
    assert sidecar["watermark_id"] is not None


def test_export_reencodes_as_asked_and_resigns_with_the_asset_as_parent(
    http: httpx.Client,
) -> None:
    asset_id = make_asset(http)

    response = http.get(f"/api/assets/{asset_id}/export",
                        params={"format": "jpeg", "quality": "85"})  # fmt: skip

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert f'filename="{asset_id}.jpg"' in response.headers["content-disposition"]
    assert Image.open(io.BytesIO(response.content)).format == "JPEG"
    report = provenance.read(response.content)
    assert report.valid
    assert report.model == "zero"
    assert report.ingredients == (
        {"title": f"{asset_id}.png", "relationship": "parentOf", "has_manifest": True},
    )
    assert report.generation["exported_from"] == asset_id


@pytest.mark.parametrize(
    ("params", "param"),
    [({"format": "gif"}, "format"), ({"quality": "0"}, "quality"),
     ({"background": "blue"}, "background"),
     ({"format": "jpeg", "background": "transparent"}, "background")],
)  # fmt: skip
def test_export_refuses_bad_params_naming_them(
    http: httpx.Client, params: dict[str, str], param: str
) -> None:
    asset_id = make_asset(http)

    response = http.get(f"/api/assets/{asset_id}/export", params=params)

    assert error(response) == (400, param)
    assert "allowed" in response.json()["error"]["message"]


def test_export_of_unknown_asset_answers_404(http: httpx.Client) -> None:
    response = http.get("/api/assets/img_missing/export")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "asset_not_found"


# -- gallery zip ----------------------------------------------------------------------------


def test_gallery_zip_holds_images_sidecars_and_manifest(http: httpx.Client) -> None:
    ids = [make_asset(http), make_asset(http, "a blue lake", model="other")]

    response = http.post("/api/assets/export", json={"asset_ids": ids})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "content-length" not in response.headers  # streamed
    entries = unzip(response.content)
    assert sorted(entries) == sorted([f"{i}.png" for i in ids] + [f"{i}.json" for i in ids]
                                     + ["manifest.json"])  # fmt: skip
    manifest = json.loads(entries["manifest.json"])
    items = {item["id"]: item for item in manifest["items"]}
    assert [item["id"] for item in manifest["items"]] == ids
    for asset_id in ids:
        image = entries[f"{asset_id}.png"]
        assert items[asset_id]["sha256"] == hashlib.sha256(image).hexdigest()
        assert image == http.get(f"/api/assets/{asset_id}/file").content
        assert json.loads(entries[f"{asset_id}.json"])["sha256"] == items[asset_id]["sha256"]
    assert items[ids[1]]["prompt"] == "a blue lake"
    assert set(items[ids[0]]) == {"id", "file", "sidecar", "sha256", "bytes", "format", "model",
                                  "seed", "size", "prompt", "created", "cost", "parent_id"}  # fmt: skip


def test_gallery_filter_selects_by_model_and_time(http: httpx.Client) -> None:
    zero, other = make_asset(http), make_asset(http, model="other")

    by_model = unzip(http.post("/api/assets/export", json={"filter": {"model": "other"}}).content)
    future = unzip(http.post("/api/assets/export",
                             json={"filter": {"since": "2999-01-01"}}).content)  # fmt: skip
    everything = unzip(http.post("/api/assets/export", json={"filter": {}}).content)

    assert [i["id"] for i in json.loads(by_model["manifest.json"])["items"]] == [other]
    assert json.loads(future["manifest.json"])["count"] == 0
    assert {f"{zero}.png", f"{other}.png"} <= set(everything)


@pytest.mark.parametrize(
    ("body", "param"),
    [({}, "asset_ids"), ({"asset_ids": ["x"], "filter": {}}, "asset_ids"),
     ({"asset_ids": []}, "asset_ids"), ({"asset_ids": ["x"] * 501}, "asset_ids"),
     ({"filter": {"since": "yesterday"}}, "filter.since")],
)  # fmt: skip
def test_gallery_refuses_bad_selection_naming_the_field(
    http: httpx.Client, body: dict[str, Any], param: str
) -> None:
    assert error(http.post("/api/assets/export", json=body)) == (400, param)


def test_gallery_with_unknown_ids_answers_404_naming_them(http: httpx.Client) -> None:
    mine = make_asset(http)

    response = http.post("/api/assets/export", json={"asset_ids": [mine, "img_nope", "img_gone"]})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "asset_ids: not found: 'img_nope', 'img_gone'"


# -- ownership ------------------------------------------------------------------------------

PASSWORD = "SECRET-password-9911"


def accounts(live: LiveServer) -> dict[str, httpx.Client]:
    clients = {}
    for name, role in (("a", "member"), ("b", "member")):
        user = live.container.accounts.create_user(f"{name}@example.com", PASSWORD, role)
        live.container.credits.grant(user.id, 10_000_000)
        key = live.container.accounts.create_key(user.id, "k")[1]
        clients[name] = httpx.Client(base_url=live.base_url, timeout=30,
                                     headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    return clients


def test_another_users_asset_is_404_everywhere(make_server: StartServer) -> None:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0)
    clients = accounts(live)
    a, b = clients["a"], clients["b"]
    theirs = make_asset(a)
    own = make_asset(b)

    answers = [
        b.get(f"/api/assets/{theirs}/metadata"), b.get(f"/api/assets/{theirs}/export"),
        b.get(f"/api/assets/{theirs}/file", params={"format": "jpeg"}),
    ]  # fmt: skip
    gallery = b.post("/api/assets/export", json={"asset_ids": [own, theirs]})
    filtered = unzip(b.post("/api/assets/export", json={"filter": {}}).content)
    for client in clients.values():
        client.close()

    assert [r.status_code for r in answers] == [404, 404, 404]
    assert gallery.status_code == 404
    assert gallery.json()["error"]["message"] == f"asset_ids: not found: {theirs!r}"
    assert [i["id"] for i in json.loads(filtered["manifest.json"])["items"]] == [own]


# -- what never leaves ----------------------------------------------------------------------


def outputs(client: httpx.Client, asset_id: str) -> dict[str, bytes]:
    """Every byte an asset can leave the server as (zip entries unpacked as well)."""
    got = {"file": client.get(f"/api/assets/{asset_id}/file").content}
    for fmt in ("png", "jpeg", "webp"):
        got[f"file.{fmt}"] = client.get(
            f"/api/assets/{asset_id}/file", params={"format": fmt}
        ).content
        got[f"export.{fmt}"] = client.get(f"/api/assets/{asset_id}/export",
                                          params={"format": fmt}).content  # fmt: skip
    got["metadata"] = client.get(f"/api/assets/{asset_id}/metadata").content
    archive = client.post("/api/assets/export", json={"asset_ids": [asset_id]})
    assert archive.status_code == 200
    got["zip"] = archive.content
    got |= {f"zip:{name}": body for name, body in unzip(archive.content).items()}
    return got


def leaks(got: dict[str, bytes], secrets: list[str | bytes]) -> list[str]:
    found = []
    for secret in secrets:
        raw = secret.encode() if isinstance(secret, str) else secret
        needles = [raw]
        if isinstance(secret, str):
            needles.append(secret.encode("utf-16-be"))
        for where, data in got.items():
            if any(n in data for n in needles):
                found.append(f"{secret!r} in {where}")
    return found


def test_no_prompt_text_anywhere_when_prompt_metadata_is_off(make_server: StartServer) -> None:
    live = make_server(engines=engines(), prompt_metadata=False)
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        got = outputs(client, make_asset(client))

    assert leaks(got, [PROMPT, "quokka-7781", "periwinkle", NEGATIVE]) == []
    manifest = json.loads(got["zip:manifest.json"])
    assert "prompt" not in manifest["items"][0]
    assert manifest["items"][0]["seed"] == 7  # the rest of the record is there


def test_files_made_before_prompt_metadata_was_turned_off_leave_without_it(
    make_server: StartServer, tmp_path: Path
) -> None:
    home = tmp_path / "shared-home"
    before = make_server(engines=engines(), home=home)
    with httpx.Client(base_url=before.base_url, timeout=30) as client:
        asset_id = make_asset(client, output_format="jpeg")
        assert PROMPT.encode() in client.get(f"/api/assets/{asset_id}/file").content
    before.stop()

    after = make_server(engines=engines(), home=home, prompt_metadata=False)
    with httpx.Client(base_url=after.base_url, timeout=30) as client:
        got = outputs(client, asset_id)

    assert leaks(got, [PROMPT, "quokka-7781", NEGATIVE]) == []
    exported = got[f"zip:{asset_id}.jpg"]
    report = provenance.read(exported)
    assert report.valid
    assert report.ingredients[0]["relationship"] == "parentOf"


def test_secrets_never_appear_in_any_output(make_server: StartServer, tmp_path: Path) -> None:
    secrets: list[str | bytes] = [
        "sk-SECRET-openai-a1b2c3", "SECRET-gemini-d4e5f6", "SECRET-llm-778899",
        "SECRET-oidc-112233", "SECRET-dburl-445566", PASSWORD,
    ]  # fmt: skip
    live = make_server(
        engines=engines(), auth="required", rate_limit_per_minute=0,
        openai_api_key=secrets[0], gemini_api_key=secrets[1], prompt_llm_api_key=secrets[2],
        oidc_client_secret=secrets[3],
        database_url=f"sqlite:///{tmp_path / 'SECRET-dburl-445566.db'}",
    )  # fmt: skip
    clients = accounts(live)
    key = clients["a"].headers["Authorization"].removeprefix("Bearer ")
    secrets.append(key)
    secrets += private_key_material(live.settings.home / "c2pa" / "dev-key.pem")
    asset_id = make_asset(clients["a"])

    got = outputs(clients["a"], asset_id)
    for client in clients.values():
        client.close()

    assert leaks(got, secrets) == []


def private_key_material(pem_file: Path) -> list[str | bytes]:
    """The C2PA key as its PEM body lines, its DER and its raw private scalar."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = pem_file.read_bytes()
    key = serialization.load_pem_private_key(pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    lines = [line for line in pem.decode().splitlines() if line and "PRIVATE KEY" not in line]
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return [*lines, der, scalar]
