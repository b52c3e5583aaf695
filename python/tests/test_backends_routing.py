"""Routing's memory on both backends (test_backends.py's harness): the SQLite one in the state folder
(routing_state.py) and the PostgreSQL one shared by every replica (pg/routing.py). Two engines on one state
are two replicas: what one routing service holds or remembers, the other sees."""

from __future__ import annotations

import base64

from mcp_push.service.backend import BackendUnavailable
from mcp_push.service.routing_service import RoutingService
from mcp_push.service.routing_state import RETAKE_SECONDS

from . import test_backends

harness = test_backends.harness  # the fixture: both backends

QUIET = """\
channels:
  me: {{type: ntfy, env: {{NTFY_URL: "{url}", NTFY_TOPIC: me}}}}
routes:
  - to: [me]
    when: {{event: [end, error, start]}}
    only: {only}
    quiet_hours: {{from: "22:00", to: "07:00", except: [error], then: defer}}
"""


def routed_env(vendor, tmp_path, only: str = "changes") -> dict[str, str]:
    path = tmp_path / "mcp-push.yaml"
    path.write_text(QUIET.format(url=vendor.url, only=only))
    return {"MCP_PUSH_CONFIG": str(path), "HITOKOTO": "false"}


def night(clock: float) -> tuple[float, float]:
    """23:00 UTC after the fake clock's day, and 07:00 UTC the morning after (the quiet hours' end). Both are
    far ahead of real time, so the services' own threads (real time) never find anything due."""
    day = (int(clock) // 86400 + 1) * 86400
    return day + 23 * 3600, day + 31 * 3600


def bodies(vendor) -> list[str]:
    return [r.body.decode() for r in vendor.received]


def test_a_message_held_by_one_replica_is_sent_once_by_another_after_the_holder_is_gone(harness, vendor, tmp_path):
    env = routed_env(vendor, tmp_path, only="changes")
    at, morning = night(harness.clock.now)
    first, second = harness.engine(env), harness.engine(env)
    holder, other = RoutingService(first), RoutingService(second)
    [held] = holder.submit(env, "nightly build", "green", kind="end", run_id="b1", now=at).result().channels
    assert (held.channel, held.status) == ("me", "queued")
    assert held.error.startswith("route 1: quiet hours 22:00-07:00 UTC: held until they end")
    holder.store.close()
    harness.restart(first)  # the replica that held it is gone
    assert other.send_due(now=morning - 1) == 0
    assert other.send_due(now=morning) == 1
    assert other.send_due(now=morning) == 0  # taken once
    harness.run_until(harness.clock.now + 1)
    assert bodies(vendor) == ["green"]
    assert vendor.received[0].headers["Title"] == "=?utf-8?B?" + base64.b64encode(b"nightly build").decode() + "?="


def test_a_runs_outcome_reported_through_one_replica_decides_on_another(harness, vendor, tmp_path):
    env = routed_env(vendor, tmp_path, only="changes")
    day = (int(harness.clock.now) // 86400 + 1) * 86400 + 12 * 3600  # noon: outside the quiet hours
    one, two = RoutingService(harness.engine(env)), RoutingService(harness.engine(env))
    [failed] = one.submit(env, "deploy", "failed", kind="error", run_id="d1", now=day).result().channels
    assert failed.status == "queued"
    # The same outcome again, through the other replica: no change, so `only: changes` drops it.
    [again] = two.submit(env, "deploy", "failed again", kind="error", run_id="d1", now=day + 60).result().channels
    assert (again.ok, again.status) == (False, "skipped")
    assert again.error.startswith("route 1: only changes")
    [fixed] = two.submit(env, "deploy", "fixed", kind="end", run_id="d1", now=day + 120).result().channels
    assert fixed.status == "queued"
    harness.run_until(harness.clock.now + 5)
    assert bodies(vendor) == ["failed", "fixed"]
    for service in (one, two):
        service.store.close()


def test_two_replicas_taking_due_messages_at_once_take_each_one_once(harness, vendor, tmp_path):
    import threading

    env = routed_env(vendor, tmp_path)
    stores = [RoutingService(harness.engine(env)).store for _ in range(2)]
    for index in range(60):
        stores[index % 2].hold("me", 100.0 + index % 3, "end", f"r{index}", f"t{index}", "c", "normal", 1.0)
    taken: list[list[str]] = [[], []]
    go = threading.Barrier(2)

    def take(which: int) -> None:
        go.wait()
        for _ in range(20):
            taken[which] += [held.title for held in stores[which].take_due(200.0)]

    threads = [threading.Thread(target=take, args=(which,)) for which in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(taken[0] + taken[1]) == sorted(f"t{index}" for index in range(60))
    assert set(taken[0]).isdisjoint(taken[1])
    # Taken, not yet done: due again only RETAKE_SECONDS after the take, then forgotten once done.
    assert all(store.next_due() == 200.0 + RETAKE_SECONDS for store in stores)
    assert stores[0].take_due(200.0 + RETAKE_SECONDS - 1) == []
    again = stores[1].take_due(200.0 + RETAKE_SECONDS)
    assert len(again) == 60
    stores[0].done([held.row for held in again])
    assert all(store.next_due() is None for store in stores)
    for store in stores:
        store.close()


def test_a_held_message_whose_submit_failed_is_not_lost_but_sent_once_later(harness, vendor, tmp_path,
                                                                           monkeypatch):
    env = routed_env(vendor, tmp_path)
    at, morning = night(harness.clock.now)
    engine = harness.engine(env)
    service = RoutingService(engine)
    for run in ("b1", "b2"):
        service.submit(env, f"build {run}", f"{run} green", kind="end", run_id=run, now=at)
    accepted = engine.submit
    calls = []

    def database_away(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:  # the first went in; the database is away for the second
            raise BackendUnavailable("database: not available (test); try again")
        return accepted(*args, **kwargs)

    monkeypatch.setattr(engine, "submit", database_away)
    try:
        service.send_due(now=morning)
        raise AssertionError("the failed submit should have been raised")
    except BackendUnavailable:
        pass
    monkeypatch.setattr(engine, "submit", accepted)
    assert service.send_due(now=morning + 1) == 0  # taken a moment ago: not sent twice meanwhile
    assert service.send_due(now=morning + RETAKE_SECONDS) == 1  # the one whose submit failed
    assert service.send_due(now=morning + 2 * RETAKE_SECONDS) == 0
    harness.run_until(harness.clock.now + 1)
    assert sorted(bodies(vendor)) == ["b1 green", "b2 green"]
    service.store.close()
