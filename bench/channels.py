"""The configurations the benchmarks use: every channel whose base URL can point at a loopback server
(for fan-out and throughput), the Apprise URLs that can, and an env configuring every channel (for plan)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# Channel -> env, for a server at `base`. Each base-URL variable is the one its spec's request.url reads.
# Left out: wecom_app (a token fetch, then the send: two sequential round trips, so its floor is 2·D)
# and channels whose host is fixed in the spec (DingTalk, Feishu, ServerChan, …).
FANOUT_CHANNELS = {
    "webhook": lambda base: {"WEBHOOK_URL": f"{base}/hook/bench", "WEBHOOK_CONTENT_TYPE": "application/json",
                             "WEBHOOK_BODY": "title: $title\ncontent: $content"},
    "ntfy": lambda base: {"NTFY_URL": f"{base}/ntfy", "NTFY_TOPIC": "bench"},
    "gotify": lambda base: {"GOTIFY_URL": f"{base}/gotify", "GOTIFY_TOKEN": "AtokGotify8a3f2b"},
    "bark": lambda base: {"BARK_PUSH": f"{base}/bark/key_bark_2e7d5a"},
    "gocqhttp": lambda base: {"GOBOT_URL": f"{base}/gocqhttp/send_private_msg", "GOBOT_QQ": "user_id=10001"},
    "chronocat": lambda base: {"CHRONOCAT_URL": f"{base}/chronocat", "CHRONOCAT_QQ": "user_id=10001",
                               "CHRONOCAT_TOKEN": "chrono_tok_5f3a9c1e77"},
    "synology_chat": lambda base: {"CHAT_URL": f"{base}/synology/entry.cgi?api=SYNO.Chat.External&token=",
                                   "CHAT_TOKEN": "sYnoTok3n9Qx7Lw2"},
    "telegram": lambda base: {"TG_API_HOST": f"{base}/telegram", "TG_BOT_TOKEN": "6825137102:AAtok_tg_4f9a1c",
                              "TG_USER_ID": "6173634402"},
    "wecom_bot": lambda base: {"QYWX_ORIGIN": f"{base}/wecom", "QYWX_KEY": "key_wb_5e1f3a90"},
    "pushdeer": lambda base: {"DEER_URL": f"{base}/pushdeer/message/push", "DEER_KEY": "PDU8123TkLm4Np7Qr2"},
    "pushme": lambda base: {"PUSHME_URL": f"{base}/pushme/", "PUSHME_KEY": "Kx7Qz2Lw9Vt4Ns6Rm1"},
    "openilink": lambda base: {"OPENILINK_HUB_URL": f"{base}/openilink", "OPENILINK_APP_TOKEN": "app_olk_7e2f9a4c1b5d"},
}

# Apprise services that take a host and port (plain http), for a server at host:port. The first seven
# are the same services as mcp-push channels above; the rest fill the fan-out to the same N.
APPRISE_URLS = [
    "json://{hp}/hook/bench",
    "ntfy://{hp}/bench",
    "gotify://{hp}/AtokGotify8a3f2b",
    "bark://{hp}/key_bark_2e7d5a",
    "onebot://{hp}/10001",
    "synology://{hp}/sYnoTok3n9Qx7Lw2",
    "pushdeer://{hp}/PDU8123TkLm4Np7Qr2",
    "xml://{hp}/xml/bench",
    "form://{hp}/form/bench",
    "json://{hp}/json2/bench",
    "ntfy://{hp}/bench2",
    "gotify://{hp}/AtokGotify8a3f2c",
]


# The channels of the side-by-side runs against QingLong's notify.py and sendNotify.js: those of
# FANOUT_CHANNELS whose URL QingLong's two files also take from an env var. Left out: PushMe
# (sendNotify.js ignores PUSHME_URL and posts to push.i-i.me). QingLong's custom webhook also needs
# WEBHOOK_METHOD (mcp-push defaults to POST; setting it changes nothing for mcp-push).
QINGLONG_CHANNELS = [name for name in FANOUT_CHANNELS if name != "pushme"]


def qinglong_env(base: str) -> dict[str, str]:
    """The env both mcp-push and QingLong read: QINGLONG_CHANNELS on the sink at `base`, no hitokoto."""
    return {**fanout_env(base, QINGLONG_CHANNELS), "WEBHOOK_METHOD": "POST"}


def quiet_env() -> dict[str, str]:
    """Settings every benchmark shares: no hitokoto quote (it would go to the internet)."""
    return {"HITOKOTO": "false"}


def fanout_env(base: str, channels: list[str] | None = None) -> dict[str, str]:
    env = quiet_env()
    for name in channels or list(FANOUT_CHANNELS):
        env.update(FANOUT_CHANNELS[name](base))
    return env


def chronocat_targets_env(base: str, count: int) -> dict[str, str]:
    """One Chronocat channel on the sink with `count` QQ ids (CHRONOCAT_QQ=user_id=…;user_id=…)."""
    ids = ";".join(f"user_id={10001 + i}" for i in range(count))
    return {**fanout_env(base, ["chronocat"]), "CHRONOCAT_QQ": ids}


def apprise_urls(base: str, count: int) -> list[str]:
    host_port = base.removeprefix("http://")
    return [url.format(hp=host_port) for url in APPRISE_URLS[:count]]


def every_channel_env() -> tuple[dict[str, str], list[str]]:
    """An env configuring every channel at once: each channel's first conformance case that plans
    requests (not a config error). Returns the env and the channels it came from."""
    env = quiet_env()
    channels = []
    for spec_file in sorted((ROOT / "spec" / "channels").glob("*.yaml")):
        name = spec_file.stem
        cases_file = ROOT / "conformance" / "cases" / name / "cases.yaml"
        if not cases_file.exists():
            continue
        cases = yaml.safe_load(cases_file.read_text(encoding="utf-8"))["cases"]
        for case in cases:
            requests = case.get("requests") or []
            if requests and not any("error" in r for r in requests):
                env.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (case.get("env") or {}).items()})
                channels.append(name)
                break
    return env, channels


# For the every-HTTP-channel fan-out: the other channels that take a URL, pointed at the sink too.
MORE_SINK_URLS = {
    "discord": lambda base: {"DISCORD_WEBHOOK_URL": f"{base}/discord/api/webhooks/1/tok_discord"},
    "google_chat": lambda base: {"GOOGLE_CHAT_WEBHOOK_URL": f"{base}/googlechat/v1/spaces/b/messages?key=k&token=t"},
    "matrix": lambda base: {"MATRIX_HOMESERVER": f"{base}/matrix"},
    "mattermost": lambda base: {"MATTERMOST_WEBHOOK_URL": f"{base}/mattermost/hooks/tok_mm"},
    "slack": lambda base: {"SLACK_WEBHOOK_URL": f"{base}/slack/services/T0/B0/tok_slack"},
    "teams": lambda base: {"TEAMS_WEBHOOK_URL": f"{base}/teams/workflows/tok_teams"},
}
# Not HTTP channels: console, SMTP, and Apprise (its own transport: the apprise library in Python, the
# `apprise` command, a Python process per send, in Node; its services' speed is Apprise's, section 1 above).
NOT_HTTP = ("console", "smtp", "apprise")


def every_http_channel_env(base: str) -> tuple[dict[str, str], list[str]]:
    """Every HTTP channel at once (all but console, SMTP and Apprise): each channel's first planning conformance
    case, with every URL an env var can set pointed at the sink at `base`. The channels whose vendor host
    the spec fixes keep their https:// URLs: they reach the sink as their HTTPS proxy (sink.py)."""
    env, channels = every_channel_env()
    env = {k: v for k, v in env.items() if not k.startswith(("SMTP_", "CONSOLE", "APPRISE_"))}
    channels = [c for c in channels if c not in NOT_HTTP]
    for name in channels:
        for table in (FANOUT_CHANNELS, MORE_SINK_URLS):
            if name in table:
                env.update(table[name](base))
    return env, channels
