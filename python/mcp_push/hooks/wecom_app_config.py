"""WeCom app: QYWX_AM = corpid,corpsecret,touser,agentid[,media]; the 5th field picks the message type."""

from __future__ import annotations

from ..config import ConfigError, strip_space
from . import HookInput


def wecom_app_config(data: HookInput) -> dict:
    """The fields of `QYWX_AM`, `msgtype` (the spec's `$when` rules pick the body by it), numeric
    `agentid`; the corpsecret is masked."""
    fields = [strip_space(part) for part in data.env["QYWX_AM"].split(",")]
    if len(fields) < 4 or len(fields) > 5:
        raise ConfigError(
            f"QYWX_AM must be corpid,corpsecret,touser,agentid[,media_id]; it has {len(fields)} fields"
        )
    corpid, corpsecret, touser, agentid = fields[:4]
    media = fields[4] if len(fields) == 5 else ""
    if not corpid or not corpsecret or not agentid:
        raise ConfigError("QYWX_AM has an empty corpid, corpsecret or agentid")
    # Empty or "1" is text, "0" a text card, anything else an mpnews article with that thumb media id.
    msgtype = "text" if media in ("", "1") else "textcard" if media == "0" else "mpnews"
    return {
        "corpid": corpid,
        "corpsecret": corpsecret,
        "touser": touser or "@all",
        # ASCII digits only: str.isdigit() also accepts "²", which int() then rejects (and JS's Number too).
        "agentid": int(agentid) if agentid.isascii() and agentid.isdigit() else agentid,
        "msgtype": msgtype,
        "media_id": media if msgtype == "mpnews" else "",
        "secrets": [corpsecret],
    }
