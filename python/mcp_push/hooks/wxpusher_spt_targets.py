"""WxPusher simple push: one SPT goes as `spt`, two to ten as `sptList`."""

from __future__ import annotations

from ..config import ConfigError, strip_space
from . import HookInput

MAX_SPTS = 10


def wxpusher_spt_targets(data: HookInput) -> dict:
    """`spt` for one SPT of `WXPUSHER_SPT_LIST`, `spt_list` for 2–10; each SPT is masked."""
    spts = [strip_space(part) for part in data.env["WXPUSHER_SPT_LIST"].split(",") if strip_space(part)]
    if not spts:
        raise ConfigError("WXPUSHER_SPT_LIST names no SPT: give one to ten SPTs separated by ,")
    if len(spts) > MAX_SPTS:
        raise ConfigError(f"WXPUSHER_SPT_LIST has {len(spts)} SPTs; WxPusher accepts at most {MAX_SPTS}")
    # Each SPT is a credential on its own; the env value as a whole never appears on the wire.
    if len(spts) == 1:
        return {"spt": spts[0], "spt_list": None, "secrets": spts}
    return {"spt": None, "spt_list": spts, "secrets": spts}
