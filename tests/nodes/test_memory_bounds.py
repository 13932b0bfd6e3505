"""Memory stays bounded on hostile inputs (issue 18): the hostile AID file, GMM Seed's max_points at its
maximum and DCE Check on a 4096² image, each in a fresh process, under the bounds documented in
tools/bench/bench_hostile_memory.py (and docs/benchmarks.md §g). Memory only; no timing is asserted."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_hostile_inputs_stay_under_their_memory_bounds():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench", "bench_hostile_memory.py"), "--check",
                        "--out", ""], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert r.stdout.count("MiB (bound") == 5, r.stdout
