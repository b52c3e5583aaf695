"""Finds, loads and validates the channel specs (spec/channels/*.yaml) once per process."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The spec format this runtime reads (spec/settings.yaml `spec_format`; spec/README.md, Spec format).
SPEC_FORMAT = 2


class SpecError(Exception):
    """A channel spec is missing or does not match spec/channel.schema.json."""


def spec_dir() -> Path:
    """The spec folder: MCP_PUSH_SPEC_DIR, the copy inside an installed wheel, or the repo's spec/."""
    override = os.environ.get("MCP_PUSH_SPEC_DIR")
    if override:
        return Path(override)
    packaged = Path(__file__).with_name("spec")
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parents[2] / "spec"
    if repo.is_dir():
        return repo
    raise SpecError("spec folder not found: set MCP_PUSH_SPEC_DIR or reinstall mcp-push")


@dataclass(frozen=True)
class EnvVar:
    name: str
    description: str
    required: bool = False
    secret: bool = False
    default: str = ""
    type: str = "string"  # string, bool, url, int or enum (config.value_problem checks them)
    example: str | None = None
    enum: tuple[str, ...] = ()
    ignore_case: bool = False
    min: int | None = None
    max: int | None = None
    # How a secret value is composed, for redact.py: userinfo, header_values, list.
    secret_parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    display_name: str
    docs: str
    env: dict[str, EnvVar]
    active_when: tuple[str, ...]
    request: dict[str, Any]
    success: dict[str, Any]
    limits: dict[str, Any]
    require_one_of: tuple[tuple[str, ...], ...] = ()
    hook: str | None = None  # a file name under hooks/
    hook_params: dict[str, Any] = field(default_factory=dict)  # `hook: {use: name, ...params}`
    transport: str = "http"
    token: dict[str, Any] | None = None
    error_paths: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    retry: dict[str, Any] | None = None
    edit: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def secret_env(self) -> tuple[str, ...]:
        return tuple(name for name, var in self.env.items() if var.secret)


# libyaml's safe loader parses the specs about 8x faster than the pure-Python one (about 40 ms of every
# MCP server start); same documents. The pure-Python loader remains for a PyYAML built without libyaml.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SafeLoader)  # noqa: S506 (a safe loader)


@functools.lru_cache(maxsize=1)
def channel_schema() -> dict[str, Any]:
    with (spec_dir() / "channel.schema.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # imported here: validation happens once, at first use

    # Built once: compiling the schema again for every spec was half of the validation time.
    return jsonschema.Draft202012Validator(channel_schema())


def validate_spec(data: Any, source: str, check_schema: bool = True) -> ChannelSpec:
    """Validates one parsed spec document and turns it into a ChannelSpec."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path)) if check_schema else []
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise SpecError(f"{source}: {where}: {first.message}")
    env = {
        name: EnvVar(name=name, **{k: tuple(v) if k in ("enum", "secret_parts") else v for k, v in props.items()})
        for name, props in data["env"].items()
    }
    declared = set(env)
    referenced = set(data["active_when"]) | {n for group in data.get("require_one_of", []) for n in group}
    unknown = sorted(referenced - declared)
    if unknown:
        raise SpecError(f"{source}: active_when/require_one_of name undeclared env vars: {', '.join(unknown)}")
    if Path(source).stem != data["name"]:
        raise SpecError(f"{source}: name '{data['name']}' must match the file name")
    # `hook: name`, or `hook: {use: name, ...params}` when the hook takes parameters (spec/README.md, Hooks).
    hook, hook_params = data.get("hook"), {}
    if isinstance(hook, dict):
        hook_params = {key: value for key, value in hook.items() if key != "use"}
        hook = hook["use"]
    return ChannelSpec(
        name=data["name"],
        display_name=data["display_name"],
        docs=data["docs"],
        env=env,
        active_when=tuple(data["active_when"]),
        require_one_of=tuple(tuple(g) for g in data.get("require_one_of", [])),
        request=data["request"],
        success=data["success"],
        limits=data["limits"],
        hook=hook,
        hook_params=hook_params,
        transport=data.get("transport", "http"),
        token=data.get("token"),
        error_paths=tuple(data.get("error_paths", ())),
        data=data.get("data", {}),
        retry=data.get("retry"),
        edit=_edit_block(data.get("edit"), data["request"]),
        raw=data,
    )


def merge_override(base: Any, override: Any) -> Any:
    """`override` deep-merged onto `base`: mappings merge key by key, a null removes the key, anything
    else (scalars, lists, a mapping over a non-mapping) replaces. Neither argument is changed."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = merge_override(merged[key], value)
        else:
            merged[key] = value
    return merged


def _edit_block(edit: dict[str, Any] | None, request: dict[str, Any]) -> dict[str, Any] | None:
    """The `edit` block with its `request` whole: the spec's override merged onto the channel's request."""
    if edit is None:
        return None
    return {**edit, "request": merge_override(request, edit["request"])}


DIGEST_FILE = "validated.sha256"


def specs_digest(root: Path) -> str:
    """SHA-256 over the channel schema and every channel spec, names and bytes: what was validated."""
    digest = hashlib.sha256()
    for path in [root / "channel.schema.json", *sorted((root / "channels").glob("*.yaml"))]:
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _validated_before(root: Path) -> bool:
    """True when tools/gen_docs.py validated exactly these files (spec/validated.sha256 holds their
    digest): the schema check, a third of a cold start with jsonschema's import, is then skipped."""
    recorded = root / DIGEST_FILE
    return recorded.is_file() and recorded.read_text(encoding="utf-8").strip() == specs_digest(root)


@functools.lru_cache(maxsize=1)
def load_channels() -> dict[str, ChannelSpec]:
    """All channel specs by name, in file-name order. Cached: specs are read and validated once."""
    folder = spec_dir() / "channels"
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise SpecError(f"no channel specs in {folder}")
    load_settings()  # refuses a spec folder of another format before its channels meet this format's schema
    check_schema = not _validated_before(spec_dir())
    specs: dict[str, ChannelSpec] = {}
    for path in paths:
        spec = validate_spec(_load_yaml(path), str(path), check_schema)
        specs[spec.name] = spec
    return specs


@functools.lru_cache(maxsize=1)
def load_settings() -> dict[str, Any]:
    data = _load_yaml(spec_dir() / "settings.yaml")
    found = data.get("spec_format", 1)
    if found != SPEC_FORMAT:
        raise SpecError(f"spec/settings.yaml: spec_format is {found}; this runtime reads spec format {SPEC_FORMAT} "
                        "(spec/README.md, Spec format)")
    data["env"] = {
        name: EnvVar(name=name, **props) for name, props in data.get("env", {}).items()
    }
    return data


def known_env_names() -> frozenset[str]:
    """Every env var any channel or the global settings read: what `send(**kwargs)` treats as config."""
    names = set(load_settings()["env"])
    for spec in load_channels().values():
        names.update(spec.env)
    return frozenset(names)
