"""Replays every conformance case against both runtimes and fails on any difference.

Each runtime must match the case (its plan, what went on the wire to the scripted vendor, its result),
and the two runtimes must match each other exactly (plans, wire, results but for elapsed time).
The runners and the comparator are conformance/runners/ (the same ones pytest's test_conformance uses);
differences are printed as readable diffs naming the case, the runtime and the field.

    python tools/conformance.py [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The checkout's runtime and conformance/runners (not installed); the root first, ahead of tools/ (this file).
sys.path[:0] = [str(ROOT), str(ROOT / "python")]

from conformance.runners import compare, node, python_runner, routing_cases  # noqa: E402
from conformance.runners.cases import load_cases  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only cases whose id contains this text")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the runtimes' own logs would drown the diffs
    cases = [c for c in load_cases() if args.k in c.id]
    node_outputs = node.run_cases(cases)
    failed = 0
    for case in cases:
        python_output = python_runner.run_case(case)
        node_output = node_outputs[case.id]
        mismatches = [
            *compare.against_case(case, "python", python_output),
            *compare.against_case(case, "node", node_output),
            *compare.between(case, "python", python_output, "node", node_output),
        ]
        if mismatches:
            failed += 1
            print(compare.report(mismatches))
    routed = [c for c in routing_cases.load_routing_cases() if args.k in c.id]
    node_routed = routing_cases.run_node(routed) if routed else {}
    for case in routed:
        python_output = routing_cases.run_python(case)
        node_output = node_routed[case.id]
        lines = [*routing_cases.mismatches(case, "python", python_output),
                 *routing_cases.mismatches(case, "node", node_output),
                 *routing_cases.between(case, python_output, node_output)]
        if lines:
            failed += 1
            print("\n".join([f"FAIL {case.id}", *lines]))
    total = len(cases) + len(routed)
    routing_note = f" ({len(routed)} of them routing decisions)" if routed else ""
    print(f"conformance: {total} cases replayed against python and node{routing_note}")
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
