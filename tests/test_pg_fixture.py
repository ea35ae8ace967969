"""The ``postgres_server`` fixture gives tests a real PostgreSQL, and cleans up after itself."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from pg import PostgresServer, find_pg_bin


@pytest.fixture
def engine(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[Engine]:
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:50]
    eng = create_engine(postgres_server.create_database(name))
    try:
        yield eng
    finally:
        eng.dispose()


def test_connects_to_a_real_postgres(postgres_server: PostgresServer, engine: Engine) -> None:
    assert engine.url.render_as_string() == postgres_server.url_for(engine.url.database or "")
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version()")).scalar_one()
        addr = conn.execute(text("SELECT inet_server_addr()::text")).scalar_one()
    assert "PostgreSQL" in version
    assert addr.startswith("127.0.0.1")


def test_skip_locked_hands_two_workers_different_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE jobs (id serial PRIMARY KEY, claimed_by text, payload text)")
        )
        conn.execute(text("INSERT INTO jobs (payload) VALUES ('a'), ('b')"))

    claim = text(
        "SELECT id FROM jobs WHERE claimed_by IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    with engine.connect() as worker1, engine.connect() as worker2:
        tx1 = worker1.begin()
        tx2 = worker2.begin()
        # Both transactions are open at once: worker1 holds its row lock while worker2 claims.
        id1 = worker1.execute(claim).scalar_one()
        id2 = worker2.execute(claim).scalar_one()
        assert id1 != id2
        with engine.connect() as worker3:
            assert worker3.execute(claim).scalar_one_or_none() is None  # both rows locked
        worker1.execute(text("UPDATE jobs SET claimed_by = 'w1' WHERE id = :id"), {"id": id1})
        worker2.execute(text("UPDATE jobs SET claimed_by = 'w2' WHERE id = :id"), {"id": id2})
        tx1.commit()
        tx2.commit()

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, claimed_by FROM jobs ORDER BY id")).all()
    assert sorted(claimed for _, claimed in rows) == ["w1", "w2"]
    assert {id1, id2} == {row_id for row_id, _ in rows}


@pytest.mark.skipif(find_pg_bin() is None, reason="PostgreSQL binaries not installed")
def test_stop_kills_the_server_and_deletes_its_directory(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path)
    try:
        server.start()
        root = server.root
        assert root is not None
        assert (server.data_dir / "PG_VERSION").is_file()
        port = server.port
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        server.stop()

    assert not root.exists()
    assert server.root is None
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=2),
    ):
        pass
    server.stop()  # idempotent
