"""Every API key view names its owner (``owner: {id, email}``): an admin's list of everyone's
keys says whose each is; a member sees only their own; create and revoke answer the owner too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from server_support import LiveServer, start_server
from testing_engines import ZeroWorkEngine

PASSWORD = "correct horse battery"


@dataclass
class Site:
    live: LiveServer
    http: httpx.Client
    ids: dict[str, str]  # email -> user id
    raw: dict[str, str]  # email -> a raw key of theirs


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    live = start_server(tmp_path_factory.mktemp("keys"), [ZeroWorkEngine()], auth="required",
                        rate_limit_per_minute=0)  # fmt: skip
    try:
        accounts = live.container.accounts
        ids, raw = {}, {}
        for email, role in (("boss@example.com", "admin"), ("ann@example.com", "member"),
                            ("bob@example.com", "member")):  # fmt: skip
            ids[email] = accounts.create_user(email, PASSWORD, role).id
            raw[email] = accounts.create_key(ids[email], f"{email} laptop")[1]
        with httpx.Client(base_url=live.base_url, timeout=20) as http:
            yield Site(live, http, ids, raw)
    finally:
        live.stop()


def as_user(site: Site, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.raw[email]}"}


def owners(site: Site, email: str) -> dict[str, dict[str, str]]:
    """key name -> owner, as ``email`` lists them."""
    response = site.http.get("/api/keys", headers=as_user(site, email))
    assert response.status_code == 200, response.text
    return {k["name"]: k["owner"] for k in response.json()["data"]}


def test_an_admins_list_names_the_owner_of_every_key(site: Site) -> None:
    listed = owners(site, "boss@example.com")
    for email, user_id in site.ids.items():
        assert listed[f"{email} laptop"] == {"id": user_id, "email": email}


def test_a_member_sees_only_their_own_keys_with_themselves_as_owner(site: Site) -> None:
    ann = {"id": site.ids["ann@example.com"], "email": "ann@example.com"}
    assert owners(site, "ann@example.com") == {"ann@example.com laptop": ann}


def test_create_and_revoke_answer_the_owner(site: Site) -> None:
    made = site.http.post(
        "/api/keys", json={"name": "ci"}, headers=as_user(site, "bob@example.com")
    )
    assert made.status_code == 201, made.text
    bob = {"id": site.ids["bob@example.com"], "email": "bob@example.com"}
    assert made.json()["owner"] == bob

    revoked = site.http.delete(f"/api/keys/{made.json()['id']}",
                               headers=as_user(site, "boss@example.com"))  # fmt: skip
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["owner"], revoked.json()["revoked"]) == (bob, True)
