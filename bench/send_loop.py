"""Warm fan-out of a drop-in `notify` module (mcp-push's or QingLong's), run by bench/qinglong.py in a
child process with the channels in its env: one untimed send, then RUNS timed ones; writes
"BENCH-TIMES t1 t2 …" (seconds per send) to stderr (QingLong prints its own lines on stdout).

    python bench/send_loop.py MODULE_DIR RUNS     # MODULE_DIR first on sys.path; empty: the installed one
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    module_dir, runs = sys.argv[1], int(sys.argv[2])
    sys.path.insert(0, module_dir)
    from notify import send

    walls = []
    for i in range(runs + 1):
        started = time.perf_counter()
        send("Bench", f"warm fan-out {i}")
        if i:
            walls.append(time.perf_counter() - started)
    sys.stderr.write("\nBENCH-TIMES " + " ".join(repr(w) for w in walls) + "\n")


if __name__ == "__main__":
    main()
