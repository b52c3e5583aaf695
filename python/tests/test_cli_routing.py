"""The CLI under a routing config (docs/ROUTING.md): `config check`, `route --explain`, `--tag`, a dry run
printing the decisions, and only: recoveries kept across runs in the state folder (service/cli_routing.py)."""

from __future__ import annotations

import pytest

from mcp_push.service.cli import main

from .pg_helpers import pg_url  # noqa: F401  (the fixture)

CONFIG = """\
channels:
  pager: {type: ntfy, env: {NTFY_URL: "${VENDOR}", NTFY_TOPIC: pager}, tags: [oncall]}
  me: {type: ntfy, env: {NTFY_URL: "${VENDOR}", NTFY_TOPIC: me, NTFY_TOKEN: tk_inline_secret_01}}
routes:
  - when: {event: [error]}
    to: [tag:oncall, me]
  - when: {event: [end], run_id: "nightly-*"}
    to: [tag:oncall]
    only: recoveries
  - when: {tags: [deploy]}
    to: [me]
"""


@pytest.fixture
def config(tmp_path, monkeypatch, vendor):
    path = tmp_path / "mcp-push.yaml"
    path.write_text(CONFIG)
    monkeypatch.setenv("MCP_PUSH_CONFIG", str(path))
    monkeypatch.setenv("VENDOR", vendor.url)
    return path


def test_config_check_reports_ok_and_warns_of_an_inline_secret(config, capsys):
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"warning: {config}:3: channels.me.env.NTFY_TOKEN: a secret written into the file; better "
        '"${NTFY_TOKEN}" and the value in the environment',
        f"{config}: ok (2 instances, 3 routes)"]


def test_config_check_names_each_problem_its_line_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels:\n  me: {type: ntfy, tags: [On Call]}\nroutes:\n  - to: [me]\n    only: success\n")
    assert main(["config", "check", str(bad)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"{bad}:2: channels.me.tags.0: must be a name of lower-case letters, digits, - and _, starting with a letter",
        f"{bad}:5: routes.0.only: must be one of failures, recoveries, changes",
        f"{bad}: 2 problems; nothing is sent while it has any"]


def test_route_explain_prints_each_decision_and_its_rule(config, capsys):
    assert main(["route", "--explain", "--title", "ship", "--tag", "deploy"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "pager: drop (normal) — no route sends it there",
        "me: send (normal) — route 3: tags deploy → me"]


def test_a_recovery_is_told_across_runs_from_the_state_folder(config, vendor, capsys):
    assert main(["event", "--run-id", "nightly-1", "--event", "end", "--message", "ok"]) == 0
    assert vendor.received == []  # no failure before: no recovery
    assert main(["event", "--run-id", "nightly-2", "--event", "error", "--message", "disk full"]) == 0
    assert sorted(r.path for r in vendor.received) == ["/me", "/pager"]
    vendor.received.clear()
    assert main(["event", "--run-id", "nightly-3", "--event", "end", "--message", "ok", "--json"]) == 0
    assert [r.path for r in vendor.received] == ["/pager"]
    assert '"status": "skipped"' in capsys.readouterr().out


def test_a_dry_run_prints_the_decisions_and_plans_only_what_goes(config, capsys):
    assert main(["send", "ship", "v2", "--tag", "deploy", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert '"channel": "me"' in captured.out and '"channel": "pager"' not in captured.out
    assert captured.err.splitlines() == ["route: pager: drop (normal) — no route sends it there",
                                         "route: me: send (normal) — route 3: tags deploy → me"]


def test_with_postgresql_the_cli_decides_from_the_state_the_replicas_share(
        config, vendor, pg_url, monkeypatch, tmp_path, capsys):  # noqa: F811
    """MCP_PUSH_DATABASE_URL: a failure sent from one machine's CLI makes the next end from another (another
    state folder) a recovery; in the state folder it would not be (routing_stores.py)."""
    monkeypatch.setenv("MCP_PUSH_DATABASE_URL", pg_url)
    monkeypatch.setenv("MCP_PUSH_STATE_DIR", str(tmp_path / "one"))
    assert main(["event", "--run-id", "nightly-2", "--event", "error", "--message", "disk full"]) == 0
    assert sorted(r.path for r in vendor.received) == ["/me", "/pager"]
    vendor.received.clear()
    monkeypatch.setenv("MCP_PUSH_STATE_DIR", str(tmp_path / "two"))
    capsys.readouterr()
    assert main(["route", "--explain", "--event", "end", "--run-id", "nightly-3", "--title", "ok"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("pager: send (normal) — route 2:")
    assert main(["event", "--run-id", "nightly-3", "--event", "end", "--message", "ok"]) == 0
    assert [r.path for r in vendor.received] == ["/pager"]
    from mcp_push.service.pg.routing import PgRoutingStore
    from mcp_push.service.pg.state import PgState

    state = PgState(pg_url)
    try:
        assert PgRoutingStore(state).state() != {}
    finally:
        state.close()
    assert not (tmp_path / "one" / "routing.sqlite3").exists() and not (tmp_path / "two" / "routing.sqlite3").exists()


def test_with_postgresql_away_the_cli_sends_nothing_and_says_so_in_one_line(config, vendor, monkeypatch, tmp_path,
                                                                          capsys):
    monkeypatch.setenv("MCP_PUSH_DATABASE_URL", "postgresql://mcp:s3cret-pw@127.0.0.1:9/mcp")
    monkeypatch.setenv("MCP_PUSH_STATE_DIR", str(tmp_path / "state"))
    assert main(["event", "--run-id", "n1", "--event", "error", "--message", "disk full"]) == 2
    err = capsys.readouterr().err
    assert vendor.received == []
    assert "s3cret-pw" not in err and "not available" in err and len(err.strip().splitlines()) == 1
    assert main(["route", "--explain", "--event", "end", "--title", "ok"]) == 2
    assert "s3cret-pw" not in capsys.readouterr().err
