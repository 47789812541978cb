"""`make bench-ab BASE=<rev>`: the bench's pages and actions for two versions of Org Desk at once.

On a shared machine two runs of `make bench` differ by a millisecond a row or more, as much as a
change is worth. Here both versions run in the same minutes against the same PostgreSQL and
Redis (tests/perf/bench.py's Services): the working tree, and BASE checked out in a temporary git
worktree. Each gets its own sandbox tenant (100 organizations, BENCH_LATENCY ms a call) and its
own gunicorn in production's configuration; their rounds are interleaved, so a change in the
machine's load hits both. It prints each row's own time (socket time minus upstream time,
median) for both and the difference.

The database is migrated by the working tree's code: BASE must not need other migrations.

    .venv/bin/python -m tests.perf.ab 5061a7d     # or: make bench-ab BASE=5061a7d
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.perf import bench


def main(base: str) -> int:
    folder = Path(tempfile.mkdtemp(prefix="orgdesk-ab-")) / "base"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(folder), base], cwd=bench.ROOT, check=True
    )
    services = None
    benches: list[bench.Bench] = []
    try:
        print(f"Starting PostgreSQL and Redis; {base} in {folder} …", flush=True)
        services = bench.Services()  # migrates and collects static files of the working tree
        shutil.copytree(bench.ROOT / "staticfiles", folder / "staticfiles")
        with bench.bench_process_settings(services.cache_url):
            for code in (folder, bench.ROOT):
                services.code = code
                benches.append(bench.Bench(100, 100, services))
                benches[-1].prepare()
            bench.measure_interleaved(benches)
    finally:
        for each in benches:
            each.close()
        if services is not None:
            services.close()
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=bench.ROOT)
        shutil.rmtree(folder.parent, ignore_errors=True)
    old, new = benches
    print(f"\nOwn time at the socket, ms (median of {bench.ROUNDS} rounds, 100 organizations)")
    print(f"{'':34}{base[:12]:>16}{'working tree':>16}{'difference':>12}")
    for name, row in new.rows.items():
        before, after = old.rows[name].median(bench.own_ms), row.median(bench.own_ms)
        share = after / row.median(bench.total_ms) * 100
        print(f"{name:34}{before:16.1f}{after:10.1f} {share:4.1f}%{after - before:+12.1f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    os.chdir(bench.ROOT)
    sys.exit(main(sys.argv[1]))
