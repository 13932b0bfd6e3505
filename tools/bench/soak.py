"""make soak: 50 queued prompts mixing every PriorPaint node against one real ComfyUI server, some
interrupted mid-run; reports the server's resident memory after a warm-up and at the end.

    python tools/bench/soak.py [--prompts 50] [--warmup 10]     -> docs/soak.json (rendered in docs/benchmarks.md)

Every prompt changes a seed or widget, so the nodes really re-execute (ComfyUI caches unchanged ones).
Every 7th prompt is a long one (VIPaint, RePaint+ or the Harmonized Sampler run for minutes) and is
interrupted through /interrupt after 1 s. Goal: ≤ 5% RSS growth after warm-up.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]

from comfy_client import ComfyServer  # noqa: E402
from prompts import node_prompt  # noqa: E402


KINDS = ("gmm_seed", "dce_check", "composite", "repaint_plus", "harmonized", "vipaint", "aid")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "soak.json"))
    a = ap.parse_args()
    from demo_inputs import photo_with_hole

    rows = []
    with tempfile.TemporaryDirectory() as tmp, ComfyServer(tmp) as server:
        photo_with_hole(server.input_dir)
        proc = psutil.Process(server.proc.pid)
        rss = lambda: proc.memory_info().rss / 2**20  # noqa: E731
        base = None
        t0 = time.time()
        for i in range(a.prompts):
            interrupt = i % 7 == 6
            kind = ("vipaint", "repaint_plus", "harmonized")[(i // 7) % 3] if interrupt else KINDS[i % len(KINDS)]
            pid = server.queue(node_prompt(kind, 1000 + i, long=interrupt, preview=True))
            if interrupt:
                time.sleep(1.0)
                server.interrupt()
            entry = server.wait(pid, timeout=600)
            status = entry["status"]["status_str"]
            interrupted = any(m[0] == "execution_interrupted" for m in entry["status"]["messages"])
            if i + 1 == a.warmup:
                base = rss()
            rows.append({"i": i, "kind": kind, "interrupt_sent": interrupt, "status": status,
                         "interrupted": interrupted, "rss_mib": rss()})
            print(f"{i + 1:3d} {kind:12s} {status:8s}{' (interrupted)' if interrupted else ''} RSS {rss():.0f} MiB",
                  flush=True)
        final = rss()
    failed = [r for r in rows if r["status"] != "success" and not r["interrupted"]]
    out = {"prompts": a.prompts, "warmup": a.warmup, "rss_after_warmup_mib": base, "rss_final_mib": final,
           "growth_pct": 100 * (final - base) / base, "interrupted": sum(r["interrupted"] for r in rows),
           "failed": len(failed), "minutes": (time.time() - t0) / 60, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"RSS after warm-up {base:.0f} MiB, final {final:.0f} MiB: {out['growth_pct']:+.1f}%; "
          f"{out['interrupted']} interrupted, {len(failed)} failed; wrote {a.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
