"""The collection order that starts the slowest tests first on every xdist worker (slow_first.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from xdist.scheduler import worksteal

from .slow_first import DIST, LIST, listed_seconds, reorder, slow_first, tell_workers_the_distribution, xdist_slices


def fake_item(nodeid: str, module_fixture: bool = False):
    scope = "module" if module_fixture else "function"
    info = SimpleNamespace(name2fixturedefs={"f": (SimpleNamespace(scope=scope),)})
    return SimpleNamespace(nodeid=nodeid, _fixtureinfo=info)


class FakeNode:
    def __init__(self, name: str):
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indices):
        self.sent.extend(indices)

    def shutdown(self):  # a worker left without tests
        self.shutting_down = True


@pytest.mark.parametrize(("total", "workers"), [(4794, 4), (10, 4), (7, 3), (3, 4), (100, 1)])
def test_the_slices_are_the_ones_xdists_worksteal_scheduler_sends_first(monkeypatch, total, workers):
    monkeypatch.setattr(worksteal, "parse_tx_spec_config", lambda config: ["popen"] * workers)
    scheduler = worksteal.WorkStealingScheduling(SimpleNamespace())
    nodes = [FakeNode(f"gw{i}") for i in range(workers)]
    collection = [f"t{i}" for i in range(total)]
    for node in nodes:
        scheduler.add_node(node)
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    assert [len(node.sent) for node in nodes] == xdist_slices(total, workers)
    assert [i for node in nodes for i in node.sent] == list(range(total))  # contiguous, in order


def test_each_slice_starts_with_its_share_of_the_slow_tests_longest_first_and_nothing_is_lost():
    items = [fake_item(f"m.py::t{i}") for i in range(40)]
    seconds = {"m.py::t39": 100.0, "m.py::t20": 30.0, "m.py::t21": 20.0, "m.py::t5": 15.0, "m.py::t6": 1.0}
    ordered = slow_first(items, seconds, 4)
    assert sorted(item.nodeid for item in ordered) == sorted(item.nodeid for item in items)
    slices, start = [], 0
    for size in xdist_slices(40, 4):
        slices.append([item.nodeid for item in ordered[start:start + size]])
        start += size
    assert [s[0] for s in slices] == ["m.py::t39", "m.py::t20", "m.py::t21", "m.py::t5"]
    assert slices[3][:2] == ["m.py::t5", "m.py::t6"]  # the least loaded slice gets the next one
    rest = [nodeid for s in slices for nodeid in s if nodeid not in seconds]
    assert rest == [f"m.py::t{i}" for i in range(40) if f"m.py::t{i}" not in seconds]  # the others keep their order


def test_tests_sharing_a_module_fixture_move_together_and_without_xdist_the_slow_ones_go_first():
    items = [fake_item("a.py::x"), fake_item("b.py::one", True), fake_item("b.py::two", True), fake_item("c.py::y")]
    ordered = [item.nodeid for item in slow_first(items, {"b.py::two": 5.0, "c.py::y": 1.0}, 1)]
    assert ordered == ["b.py::one", "b.py::two", "c.py::y", "a.py::x"]


def test_the_list_names_tests_this_suite_has():
    seconds = listed_seconds(LIST)
    assert len(seconds) >= 20 and all(value > 0 for value in seconds.values())
    root = LIST.parents[2]
    for nodeid in seconds:  # a test that was renamed or removed must leave the list too
        path, name = nodeid.split("::", 1)
        assert f"def {name.split('[', 1)[0]}(" in (root / path).read_text(encoding="utf-8"), nodeid

def test_a_worker_deals_the_slow_tests_over_the_slices_only_under_worksteal_which_the_controller_tells_it():
    node = SimpleNamespace(config=SimpleNamespace(option=SimpleNamespace(dist="worksteal")), workerinput={})
    tell_workers_the_distribution(node)  # xdist sets a worker's own option.dist to "no"
    assert node.workerinput == {DIST: "worksteal"}
    slowest = sorted(listed_seconds(), key=lambda nodeid: -listed_seconds()[nodeid])[:2]
    items = [fake_item(f"z.py::t{i}") for i in range(20)] + [fake_item(nodeid) for nodeid in slowest]
    for dist, second_slow_at in (("worksteal", 5), ("load", 1), (None, 1)):
        config = SimpleNamespace(workerinput={"workercount": 4, **({DIST: dist} if dist else {})})
        ordered = list(items)
        reorder(config, ordered)
        assert ordered[0].nodeid == slowest[0]
        assert ordered[second_slow_at].nodeid == slowest[1]  # the head of the second slice, or simply next
