"""spec_stamp.py: a process learns that spec/validated.json is current from a stat of each spec file, once
the files have been hashed and have not changed since; any change is hashed again and picked up."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from mcp_push import spec_stamp, specs


@pytest.fixture
def settled(tmp_path, monkeypatch):
    """A copy of spec/ the loader reads, its files counted as settled (no racy margin), and a count of the
    times the files are hashed."""
    copy = tmp_path / "spec"
    shutil.copytree(specs.spec_dir(), copy, ignore=shutil.ignore_patterns(spec_stamp.STAMP_FILE))
    monkeypatch.setenv("MCP_PUSH_SPEC_DIR", str(copy))
    monkeypatch.setattr(spec_stamp, "RACY_NS", 0)
    hashed = []
    digest = specs.specs_digest

    def counted(root):
        hashed.append(root)
        return digest(root)

    monkeypatch.setattr(specs, "specs_digest", counted)
    specs.clear_caches()
    yield copy, hashed
    specs.clear_caches()


def _fresh_load(name="ntfy"):
    specs.clear_caches()  # what a new process starts with
    return specs.load_channel(name)


def test_unchanged_files_are_hashed_once_then_known_by_their_stat(settled):
    copy, hashed = settled
    assert _fresh_load().display_name == "ntfy"
    assert len(hashed) == 1
    stamp = json.loads((copy / spec_stamp.STAMP_FILE).read_text(encoding="utf-8"))
    assert stamp["digest"] == specs.specs_digest(copy)
    hashed.clear()
    assert _fresh_load().display_name == "ntfy"
    assert _fresh_load().display_name == "ntfy"
    assert hashed == []


def test_the_stamped_digest_is_what_decides_while_the_files_look_the_same(settled):
    copy, hashed = settled
    _fresh_load()
    stamp_path = copy / spec_stamp.STAMP_FILE
    stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    stamp_path.write_text(json.dumps({**stamp, "digest": "0" * 64}), encoding="utf-8")
    # The stamp says the files are not those validated.json was written from: the YAML is read.
    specs.clear_caches()
    assert specs.current_digest(copy) == "0" * 64
    assert specs._parsed(copy) is None


@pytest.mark.parametrize("how", ["in place", "replaced"])
def test_a_spec_edited_after_the_stamp_is_picked_up(settled, how):
    copy, hashed = settled
    _fresh_load()
    hashed.clear()
    path = copy / "channels" / "ntfy.yaml"
    text = path.read_text(encoding="utf-8").replace("display_name: ntfy", "display_name: ntfy edited", 1)
    if how == "in place":
        path.write_text(text, encoding="utf-8")
    else:  # an editor that writes a new file and renames it over the old one
        (copy / "channels" / "ntfy.yaml.new").write_text(text, encoding="utf-8")
        os.replace(copy / "channels" / "ntfy.yaml.new", path)
    assert _fresh_load().display_name == "ntfy edited"
    assert len(hashed) >= 1


def test_an_added_template_is_hashed_again(settled):
    copy, hashed = settled
    _fresh_load()
    hashed.clear()
    (copy / "templates" / "extra.yaml").write_text("a: 1\n", encoding="utf-8")
    assert specs._parsed(copy) is None  # validated.json was not written from these files
    assert len(hashed) == 1


def test_files_changed_just_now_are_not_stamped(settled, monkeypatch):
    copy, hashed = settled
    monkeypatch.setattr(spec_stamp, "RACY_NS", 3_000_000_000)
    assert _fresh_load().display_name == "ntfy"  # copied a moment ago: within the racy margin
    assert not (copy / spec_stamp.STAMP_FILE).exists()
    _fresh_load()
    assert len(hashed) == 2


def test_a_folder_the_stamp_cannot_be_written_to_is_hashed_each_time(settled):
    copy, hashed = settled
    (copy / spec_stamp.STAMP_FILE).mkdir()  # neither readable as a stamp nor replaceable by one
    assert _fresh_load().display_name == "ntfy"
    assert _fresh_load().display_name == "ntfy"
    assert len(hashed) == 2
    assert [p.name for p in copy.iterdir() if p.name.endswith(".tmp")] == []
