"""Collection order that starts the suite's slowest tests first (conftest.py's pytest_collection_modifyitems).

A few tests take many seconds of wall each (real servers, replicas and workers on PostgreSQL, rate limits,
Chromium; slow_tests.txt lists them with their seconds from a measured run). In collection order several of them
sat near the end of a worker's share and the run waited on them alone at its end. pytest-xdist's work stealing
first gives each worker an equal slice of the collection, in order, and later moves tests from the back of the
longest queue to idle workers; so the slow tests go to the front of the slices, spread over them longest first
(each to the slice with the fewest listed seconds so far), and the rest keep their order. Without xdist, or with
another distribution, the slow tests simply go first.

Only the order changes: the same tests run, each with its own fixtures. Tests sharing a module-scoped fixture stay
together, so that fixture is still set up once per worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LIST = Path(__file__).with_name("slow_tests.txt")


def listed_seconds(path: Path = LIST) -> dict[str, float]:
    """node id -> seconds, from lines `<seconds><TAB><node id>` (# comments and blank lines skipped)."""
    seconds: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            value, nodeid = line.split("\t", 1)
            seconds[nodeid.strip()] = float(value)
    return seconds


def _unit(item: pytest.Item) -> str:
    """What moves as one: the test, or its whole module when it uses a module- or package-scoped fixture."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    shared = any(chain and chain[-1].scope in ("module", "package") for chain in defs)
    return item.nodeid.split("::", 1)[0] if shared else item.nodeid


def xdist_slices(total: int, workers: int) -> list[int]:
    """The sizes of the slices pytest-xdist's worksteal scheduler first sends its workers, in order
    (WorkStealingScheduling.check_schedule: each idle worker len(pending) // workers_left)."""
    sizes = []
    for left in range(workers, 0, -1):
        sizes.append(total // left)
        total -= sizes[-1]
    return sizes


def slow_first(items: list[pytest.Item], seconds: dict[str, float], workers: int) -> list[pytest.Item]:
    """`items` reordered: the units holding listed tests first, longest first, dealt over `workers` slices."""
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(_unit(item), []).append(item)
    weight = {key: sum(seconds.get(item.nodeid, 0.0) for item in members) for key, members in units.items()}
    slow = sorted((key for key in units if weight[key] > 0), key=lambda key: -weight[key])  # stable for ties
    rest = [item for key, members in units.items() if weight[key] == 0 for item in members]
    if workers <= 1:
        return [item for key in slow for item in units[key]] + rest
    sizes = xdist_slices(len(items), workers)
    heads: list[list[pytest.Item]] = [[] for _ in sizes]
    load = [0.0] * workers
    for key in slow:
        room = [j for j in range(workers) if len(heads[j]) + len(units[key]) <= sizes[j]] or list(range(workers))
        j = min(room, key=lambda j: (load[j], j))
        heads[j].extend(units[key])
        load[j] += weight[key]
    ordered: list[pytest.Item] = []
    for j, size in enumerate(sizes):
        ordered.extend(heads[j])
        fill = max(0, size - len(heads[j])) if j < workers - 1 else len(rest)
        ordered.extend(rest[:fill])
        del rest[:fill]
    return ordered


# The key under which the controller tells its workers its --dist (a worker's own config says "no").
DIST = "slow_first_dist"


def tell_workers_the_distribution(node) -> None:
    """pytest-xdist's pytest_configure_node, on the controller: the workers' reorder needs its --dist."""
    node.workerinput[DIST] = node.config.option.dist


def reorder(config: pytest.Config, items: list[pytest.Item]) -> None:
    workerinput = getattr(config, "workerinput", None)
    workers = int(workerinput["workercount"]) if workerinput else 1
    if workers > 1 and workerinput.get(DIST) != "worksteal":
        workers = 1
    items[:] = slow_first(items, listed_seconds(), workers)
