"""A real PostgreSQL for the PostgreSQL backend's tests (.ci/run starts one: .ci/postgres.sh): each test gets
a schema of its own in MCP_PUSH_TEST_DATABASE_URL's database, migrated with `mcp-push db migrate`'s code.

Under CI (CI set) a missing URL fails the tests that need it: they must run there. Elsewhere they are
skipped with the reason, for a developer without PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

URL_VAR = "MCP_PUSH_TEST_DATABASE_URL"


def database_url_for_tests() -> str:
    url = os.environ.get(URL_VAR, "")
    if not url:
        message = f"{URL_VAR} is not set: .ci/postgres.sh starts a PostgreSQL and sets it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


def fresh_schema() -> Iterator[str]:
    """A URL whose connections use a new, migrated schema; dropped afterwards."""
    import psycopg

    from mcp_push.service.pg.schema import migrate

    base = database_url_for_tests()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = with_search_path(base, schema)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_schema()


def shift_schedule(url: str, seconds: float) -> None:
    """A fake clock moved `seconds` on: the jobs rescheduled meanwhile become due as much earlier."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_jobs SET scheduled_at = scheduled_at - make_interval(secs => %s) "
                     "WHERE status = 'todo' AND scheduled_at IS NOT NULL", (seconds,))
