"""The balanced preset around ComfyUI's samplers and schedulers on the exact multimodal posteriors (issue 19,
"defaults from measurements"): `make bench-posterior`'s problems and metrics (tools/bench/bench_posterior.py),
one row per (sampler, scheduler) pair instead of its fixed list.

    python tools/studies/posterior_base_sweep.py [--profile precise] [--family hole] \
        euler/karras euler/simple dpmpp_2m_sde/simple ...     [--seed 1: other priors and observations]

Writes the rows to --out (default out/posterior_base_sweep.json) and prints bench-posterior's lines; NFE is
counted by the harness, so samplers with more than one call per step show it.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import bench_posterior as bp  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="+", help="sampler/scheduler, e.g. euler/simple")
    ap.add_argument("--profile", default="precise")
    ap.add_argument("--family", default="all")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="other priors and observations (a held-out check)")
    ap.add_argument("--out", default=os.path.join(bp.ROOT, "out", "posterior_base_sweep.json"))
    a = ap.parse_args()
    pairs = [tuple(p.split("/")) for p in a.pairs]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    bp.main(["--profile", a.profile, "--family", a.family, "--seed", str(a.seed), "--out", a.out],
            meths=[("PriorPaint balanced", *bp._ksampler("balanced", a.steps, s, sch)) for s, sch in pairs])


if __name__ == "__main__":
    main()
