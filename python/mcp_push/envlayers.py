"""The env a `send()` reads: its keyword settings over the process environment, as a ChainMap whose
lookups in os.environ raise nothing. A send looks up about a hundred names (every channel's switches,
then the configured channels' settings), most of them unset; through ChainMap and os.environ each
unset one raised and caught two KeyErrors. The values are the environment's at the moment of the
lookup, as before: nothing is copied or kept."""

from __future__ import annotations

import os
from collections import ChainMap
from typing import Any

_MISSING = object()


def _from(layer: Any, key: Any) -> Any:
    if type(layer) is dict:
        return layer.get(key, _MISSING)
    if type(layer) is os._Environ and type(key) is str and os.name == "posix":
        raw = layer._data.get(layer.encodekey(key))
        return _MISSING if raw is None else layer.decodevalue(raw)
    try:
        return layer[key]
    except KeyError:
        return _MISSING


class EnvLayers(ChainMap):
    """ChainMap(config, os.environ) with the same answers, looked up without exceptions."""

    def __getitem__(self, key: Any) -> Any:
        for layer in self.maps:
            value = _from(layer, key)
            if value is not _MISSING:
                return value
        return self.__missing__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        for layer in self.maps:
            value = _from(layer, key)
            if value is not _MISSING:
                return value
        return default

    def __contains__(self, key: Any) -> bool:
        return any(_from(layer, key) is not _MISSING for layer in self.maps)


def environ_get(name: str) -> str | None:
    """os.environ.get(name), without the two KeyErrors an unset name costs."""
    value = _from(os.environ, name)
    return None if value is _MISSING else value
