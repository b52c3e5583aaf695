"""send()'s env (envlayers.EnvLayers) answers as ChainMap(config, os.environ) does, looked up without
exceptions, and reads the environment as it is at each lookup."""

from __future__ import annotations

import os
from collections import ChainMap

from mcp_push import send
from mcp_push.envlayers import EnvLayers


def test_every_lookup_answers_as_chainmap_does(monkeypatch):
    monkeypatch.setenv("MCPP_LAYER_SET", "from env")
    monkeypatch.setenv("MCPP_LAYER_BOTH", "env loses")
    monkeypatch.setenv("MCPP_LAYER_ODD", "caf\udce9")  # an undecodable byte, as os.environ keeps it
    monkeypatch.delenv("MCPP_LAYER_UNSET", raising=False)
    config = {"MCPP_LAYER_BOTH": "config wins", "MCPP_LAYER_CONFIG": "", 7: "not text"}
    ours, theirs = EnvLayers(config, os.environ), ChainMap(config, os.environ)
    for key in ("MCPP_LAYER_SET", "MCPP_LAYER_BOTH", "MCPP_LAYER_ODD", "MCPP_LAYER_UNSET", "MCPP_LAYER_CONFIG", 7):
        assert ours.get(key) == theirs.get(key)
        assert ours.get(key, "d") == theirs.get(key, "d")
        assert (key in ours) == (key in theirs)
        assert ours[key] == theirs[key] if key in theirs else ours.get(key) is None
    assert dict(ours) == dict(theirs)
    assert isinstance(ours, ChainMap) and ours.maps == theirs.maps


def test_a_change_to_the_environment_is_seen_by_the_next_lookup(monkeypatch):
    layers = EnvLayers({}, os.environ)
    monkeypatch.delenv("MCPP_LAYER_LATE", raising=False)
    assert layers.get("MCPP_LAYER_LATE") is None
    monkeypatch.setenv("MCPP_LAYER_LATE", "now set")
    assert layers.get("MCPP_LAYER_LATE") == "now set" and "MCPP_LAYER_LATE" in layers


def test_send_reads_a_channel_set_in_the_environment_between_two_sends(monkeypatch, vendor):
    monkeypatch.delenv("GOTIFY_URL", raising=False)
    assert send("t", "c").channels == []
    monkeypatch.setenv("GOTIFY_URL", vendor.url)
    monkeypatch.setenv("GOTIFY_TOKEN", "gotify_tok_layers")
    [result] = send("t", "c").channels
    assert result.channel == "gotify" and result.ok
