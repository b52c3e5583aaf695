"""Finds, loads and validates the channel specs (spec/channels/*.yaml) once per process.

An installed package (and a checkout whose specs are unchanged) reads them from spec/validated.json, the
form tools/gen_docs.py wrote after validating them, parsed: no YAML parser is imported and no schema
check runs. When the spec files' digest is not the one that file records (a spec edited since), the YAML
files are read and validated instead. Channels are built one by one, as they are needed: deciding which
are configured reads only each channel's active_when variables."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    event: dict[str, Any] | None = None  # the event card (spec/README.md, "Event cards"), requests whole
    markdown: str = "text"  # the dialect a message sent with format=markdown is written in (markdown.py)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # A named instance of a channel (mcp-push.yaml): `name` is the instance's, this the channel id.
    instance_of: str | None = None
    priority: dict[str, Any] | None = None  # what a message's priority changes (priority.py)

    @property
    def channel_id(self) -> str:
        return self.instance_of or self.name

    @property
    def secret_env(self) -> tuple[str, ...]:
        return tuple(name for name, var in self.env.items() if var.secret)


# libyaml's safe loader parses the specs about 8x faster than the pure-Python one; same documents. The
# pure-Python loader remains for a PyYAML built without libyaml. Only read when spec/validated.json is stale.
def _load_yaml(path: Path) -> Any:
    import yaml  # here: an installed package reads spec/validated.json and never needs it

    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (a safe loader)


def channel_schema() -> dict[str, Any]:
    if "schema" not in _cache:
        with (spec_dir() / "channel.schema.json").open(encoding="utf-8") as fh:
            _cache["schema"] = json.load(fh)
    return _cache["schema"]


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
    env = {name: _env_var(name, props) for name, props in data["env"].items()}
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
        event=_event_block(data.get("event"), data["request"], data.get("edit")),
        markdown=data.get("markdown", "text"),
        raw=data,
        priority=data.get("priority"),
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


def _event_block(event: dict[str, Any] | None, request: dict[str, Any], edit: dict[str, Any] | None
                 ) -> dict[str, Any] | None:
    """The `event` block with its `request` whole (its override merged onto the channel's request) and,
    for a channel that edits, `edit_request`: the edit's override merged onto the card's request, so a
    run's card is edited as a card."""
    if event is None:
        return None
    card_request = merge_override(request, event["request"])
    edit_request = merge_override(card_request, edit["request"]) if edit is not None else None
    return {**event, "request": card_request, "edit_request": edit_request}


DIGEST_FILE = "validated.sha256"
PARSED_FILE = "validated.json"


def source_files(root: Path) -> list[Path]:
    """The files the specs are made of: the channel schema, the global settings, every channel spec and
    the templates (spec/templates/*.yaml). Their digest keys spec/validated.sha256 and spec/validated.json."""
    fixed = [path for path in (root / "channel.schema.json", root / "settings.yaml") if path.is_file()]
    return [*fixed, *sorted((root / "channels").glob("*.yaml")), *sorted((root / "templates").glob("*.yaml"))]


def specs_digest(root: Path) -> str:
    """SHA-256 over the source files, each path (relative to root) and bytes: what was validated.
    js/src/specSource.js computes the same."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def current_digest(root: Path) -> str:
    """specs_digest(root), taken from spec/.validated.stat when every file looks as it did when last hashed
    (spec_stamp.py): a process reads no spec file to learn that spec/validated.json is current. Loaded
    alone, outside the package (tools/runtime_specs.py: the lint and docs tools), it hashes the files."""
    if not __package__:
        return specs_digest(root)
    from .spec_stamp import remembered_digest

    return remembered_digest(root, specs_digest, source_files)


def _validated_before(root: Path) -> bool:
    """True when tools/gen_docs.py validated exactly these files (spec/validated.sha256 holds their
    digest): the schema check, a third of a cold start with jsonschema's import, is then skipped."""
    recorded = root / DIGEST_FILE
    return recorded.is_file() and recorded.read_text(encoding="utf-8").strip() == current_digest(root)


# What has been read: "source" (the raw documents, see _source), "specs" (ChannelSpecs built so far),
# "active" (each channel's active_when variables), "settings", "schema".
_cache: dict[str, Any] = {}
_lock = threading.Lock()


def _parsed(root: Path) -> dict[str, Any] | None:
    """spec/validated.json when it was written from exactly the files in root, else None."""
    path = root / PARSED_FILE
    if not path.is_file():
        return None
    try:
        # Bytes decoded at once: read_text's newline translation took twice as long as the decoding, and
        # JSON has no raw line break inside a string for it to change.
        data = json.loads(path.read_bytes().decode("utf-8"))
    except ValueError:  # cut short, not UTF-8, or a merge conflict's markers: the YAML is the truth
        return None
    return data if isinstance(data, dict) and data.get("digest") == current_digest(root) else None


def _read_yaml(root: Path) -> dict[str, Any]:
    """The raw documents from the YAML files, every channel validated (the schema check skipped when
    spec/validated.sha256 records these files): a spec error shows at the first load, whichever
    channel it is in."""
    folder = root / "channels"
    channels = {path.stem: _load_yaml(path) for path in sorted(folder.glob("*.yaml"))}
    if not channels:
        raise SpecError(f"no channel specs in {folder}")
    # Refuses a spec folder of another format before its channels meet this format's schema.
    settings = _check_format(_load_yaml(root / "settings.yaml"))
    check_schema = not _validated_before(root)
    specs = {}
    for stem, data in channels.items():
        spec = validate_spec(data, str(folder / f"{stem}.yaml"), check_schema)
        specs[spec.name] = spec
    return {"root": root, "channels": channels, "specs": specs, "settings": settings, "templates": None}


def _check_format(settings: dict[str, Any]) -> dict[str, Any]:
    found = settings.get("spec_format", 1)
    if found != SPEC_FORMAT:
        raise SpecError(f"spec/settings.yaml: spec_format is {found}; this runtime reads spec format {SPEC_FORMAT} "
                        "(spec/README.md, Spec format)")
    return settings


def _source() -> dict[str, Any]:
    """The raw documents, read once: from spec/validated.json when it is current, else from the YAML."""
    if "source" in _cache:
        return _cache["source"]
    with _lock:  # the MCP server's threads may ask at once; the documents are read once
        if "source" in _cache:
            return _cache["source"]
        root = spec_dir()
        parsed = _parsed(root)
        if parsed is None:
            _cache["source"] = _read_yaml(root)
        else:
            _cache["source"] = {"root": root, "channels": parsed["channels"], "specs": {},
                                "settings": _check_format(parsed["settings"]), "templates": parsed["templates"]}
    return _cache["source"]


def clear_caches() -> None:
    """Forgets everything read (tests and tools/lint_specs.py point MCP_PUSH_SPEC_DIR elsewhere)."""
    _cache.clear()
    _validator.cache_clear()


def spec_documents() -> Any:
    """The specs as read now: another object once clear_caches() has them read again (a cache's key)."""
    return _source()


def channel_ids() -> tuple[str, ...]:
    """Every channel id, in file-name order (the order results come in)."""
    return tuple(_source()["channels"])


def load_channel(name: str) -> ChannelSpec:
    """One channel's spec, built the first time it is asked for. KeyError for an unknown id."""
    source = _source()
    spec = source["specs"].get(name)
    if spec is None:
        data = source["channels"][name]
        # Validated by tools/gen_docs.py before it wrote spec/validated.json: only the cross-checks run.
        spec = validate_spec(data, str(source["root"] / "channels" / f"{name}.yaml"), check_schema=False)
        source["specs"][name] = spec
    return spec


def active_vars(name: str) -> tuple[EnvVar, ...]:
    """The variables that turn a channel on (its active_when), without building the whole channel."""
    active = _cache.setdefault("active", {})
    if name not in active:
        env = _source()["channels"][name]["env"]
        active[name] = tuple(_env_var(var, env[var]) for var in _source()["channels"][name]["active_when"])
    return active[name]


def _env_var(name: str, props: dict[str, Any]) -> EnvVar:
    return EnvVar(name=name, **{k: tuple(v) if k in ("enum", "secret_parts") else v for k, v in props.items()})


def load_channels() -> dict[str, ChannelSpec]:
    """All channel specs by name, in file-name order. Every one is built: callers that need only the
    configured channels use channel_ids, active_vars and load_channel (selection.py)."""
    return {name: load_channel(name) for name in channel_ids()}


def load_settings() -> dict[str, Any]:
    if "settings" not in _cache:
        data = _source()["settings"]
        data = {**data, "env": {name: EnvVar(name=name, **props) for name, props in data.get("env", {}).items()}}
        _cache["settings"] = data
    return _cache["settings"]


def template(name: str) -> dict[str, Any]:
    """spec/templates/<name>.yaml (the event template), parsed."""
    templates = _source()["templates"]
    if templates is not None:
        return templates[name]
    return _load_yaml(spec_dir() / "templates" / f"{name}.yaml")


# The tests and tools/lint_specs.py clear these as they would an lru_cache's.
for _fn in (load_channels, load_settings, channel_schema):
    _fn.cache_clear = clear_caches  # type: ignore[attr-defined]


def known_env_names() -> frozenset[str]:
    """Every env var any channel or the global settings read: what `send(**kwargs)` treats as config."""
    names = set(load_settings()["env"])
    for data in _source()["channels"].values():
        names.update(data["env"])
    return frozenset(names)


def parsed_json(root: Path) -> str:
    """The text of spec/validated.json for the specs in root (tools/gen_docs.py writes it): every channel
    validated as a stale file would be, then the raw documents, one channel a line, under the digest of
    the files they came from. Raises SpecError when a spec is invalid or not plain JSON data."""
    before = os.environ.get("MCP_PUSH_SPEC_DIR")
    os.environ["MCP_PUSH_SPEC_DIR"] = str(root)
    clear_caches()
    try:
        channels = _read_yaml(root)["channels"]
        settings = _load_yaml(root / "settings.yaml")
        templates = {path.stem: _load_yaml(path) for path in sorted((root / "templates").glob("*.yaml"))}
    finally:
        if before is None:
            os.environ.pop("MCP_PUSH_SPEC_DIR", None)
        else:
            os.environ["MCP_PUSH_SPEC_DIR"] = before
        clear_caches()

    def dumps(value: Any) -> str:
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except TypeError as exc:  # a date, say: YAML reads one where JSON has only text
            raise SpecError(f"{root}: a spec holds values JSON cannot carry ({exc})") from None

    lines = [f'{{"digest":{dumps(specs_digest(root))},', f'"settings":{dumps(settings)},',
             f'"templates":{dumps(templates)},', '"channels":{']
    lines += [f"{dumps(name)}:{dumps(data)}," for name, data in channels.items()]
    lines[-1] = lines[-1].rstrip(",")
    text = "\n".join([*lines, "}}"]) + "\n"
    back = json.loads(text)
    for name, data in channels.items():  # YAML can hold what JSON cannot (dates, number keys): refuse it
        if back["channels"][name] != data:
            raise SpecError(f"{root / 'channels' / name}.yaml: holds values JSON cannot carry (dates, non-text keys)")
    if back["settings"] != settings or back["templates"] != templates:
        raise SpecError(f"{root}: settings.yaml or templates/ hold values JSON cannot carry")
    return text
