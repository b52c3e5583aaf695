"""The conformance runners (conformance/README.md, "Runners"): each replays conformance/cases against one
runtime and returns the same output shape; compare.py checks an output against its case and two runtimes'
outputs against each other. Used by python/tests/test_conformance.py and tools/conformance.py alike.

    cases.py          loads and validates the cases (Case: env, expected plan, expected wire, issued tokens)
    python_runner.py  the Python replayer: plans, and sends through the real transport to a scripted vendor
    node_runner.js    the Node replayer (stdin: cases as JSON, stdout: outputs as JSON)
    node.py           runs node_runner.js for a list of cases
    plan_batch.js     plans batches of messages in Node, for the randomized cross-check
    compare.py        the one comparator: readable diffs naming the case, the runtime and the field
"""
