"""The balanced preset around ComfyUI's samplers and schedulers on the exact multimodal posteriors (issue 19,
"defaults from measurements"): `make bench-posterior`'s problems and metrics (tools/bench/bench_posterior.py),
one row per (sampler, scheduler) pair instead of its fixed list.

    python tools/studies/posterior_base_sweep.py [--profile precise] [--family hole] \
        euler/karras euler/simple dpmpp_2m_sde/simple ...     [--seed 1: other priors and observations]

    python tools/studies/posterior_base_sweep.py euler/simple euler/karras --seeds 0-7 \
        --out docs/posterior-sets.json                        [the issue's bar read over 8 sets of priors]

Writes the rows to --out (default out/posterior_base_sweep.json) and prints bench-posterior's lines; NFE is
counted by the harness, so samplers with more than one call per step show it.

With ``--seeds`` every pair runs on each set of priors and observations (``--seed`` of the bench: other
mixtures, other observations, same metrics) and the output adds, per pair, family, mask and model kind, the
spread over the sets: sliced W2 / floor and NLL+ as mean ± standard error over sets with their range, and how
many sets meet each part of the issue's bar (SW2 ≤ 1.2× the floor, |NLL+| ≤ 0.1, TV within 2 standard errors
of its floor). One set is one prior per mask; how far apart two sets land is what a single set cannot show.
"""
import argparse
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import bench_posterior as bp  # noqa: E402

BAR = {"sw2_ratio": 1.2, "nll_excess": 0.1, "tv_z": 2.0}  # the acceptance, per set


def seed_list(text: str) -> list[int]:
    """``"0-7"`` or ``"0,3,5"`` -> seeds."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise SystemExit(f"--seeds: distinct non-negative seeds like 0-7 or 0,2,5, got {text!r}")
    return out


def tv_z(r: dict) -> float:
    """How many of its standard errors the TV of component weights lies above its exact-vs-exact floor."""
    return (r["tv"] - r["tv_floor"]) / r["tv_se"] if r["tv_se"] > 0 else math.inf * (r["tv"] > r["tv_floor"])


def over_sets(runs: dict[int, list[dict]]) -> list[dict]:
    """Per (settings, family, mask, prediction): the rows of every set side by side, their spread, and how many
    sets meet each part of the bar."""
    groups = {}
    for seed, rows in sorted(runs.items()):
        for r in rows:
            key = (r["method"], r["settings"], r["family"], r["mask"], r["prediction"])
            groups.setdefault(key, []).append(dict(r, seed=seed))
    out = []
    for (method, settings, family, mask, pred), rows in groups.items():
        g = {"method": method, "settings": settings, "family": family, "mask": mask, "prediction": pred,
             "sets": len(rows), "seeds": [r["seed"] for r in rows], "nfe": rows[0]["nfe"]}
        for key in ("sw2_ratio", "nll_excess"):
            v = [r[key] for r in rows]
            mean = sum(v) / len(v)
            se = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else math.nan
            g[key] = {"per_set": v, "mean": mean, "se": se, "min": min(v), "max": max(v)}
        z = [tv_z(r) for r in rows]
        g["tv_z"] = {"per_set": z, "max": max(z)}
        g["sets_meeting"] = {"sw2_ratio": sum(x <= BAR["sw2_ratio"] for x in g["sw2_ratio"]["per_set"]),
                             "nll_excess": sum(abs(x) <= BAR["nll_excess"] for x in g["nll_excess"]["per_set"]),
                             "tv_z": sum(x <= BAR["tv_z"] for x in z)}
        g["sets_meeting"]["all"] = sum(s <= BAR["sw2_ratio"] and abs(n) <= BAR["nll_excess"] and t <= BAR["tv_z"]
                                       for s, n, t in zip(g["sw2_ratio"]["per_set"], g["nll_excess"]["per_set"], z))
        out.append(g)
    return out


def print_sets(groups: list[dict]) -> None:
    print(f"\nover sets of priors; bar per set: SW2 <= {BAR['sw2_ratio']}x floor, |NLL+| <= {BAR['nll_excess']}, "
          f"TV z <= {BAR['tv_z']}")
    for g in groups:
        s, n, k = g["sw2_ratio"], g["nll_excess"], g["sets_meeting"]
        print(f"{g['settings']:28s} {g['family']:5s} {g['mask']:9s} {g['prediction']:4s} "
              f"SW2 {s['mean']:.2f}±{s['se']:.2f} [{s['min']:.2f}, {s['max']:.2f}]  "
              f"NLL+ {n['mean']:+.3f}±{n['se']:.3f} [{n['min']:+.2f}, {n['max']:+.2f}]  TV z max {g['tv_z']['max']:.1f}  "
              f"sets meeting SW2 {k['sw2_ratio']}/{g['sets']} NLL {k['nll_excess']}/{g['sets']} "
              f"TV {k['tv_z']}/{g['sets']} all {k['all']}/{g['sets']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="+", help="sampler/scheduler, e.g. euler/simple")
    ap.add_argument("--profile", default="precise")
    ap.add_argument("--family", default="all")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="other priors and observations (a held-out check)")
    ap.add_argument("--seeds", default="", help="several sets of priors, e.g. 0-7: adds their spread")
    ap.add_argument("--out", default=os.path.join(bp.ROOT, "out", "posterior_base_sweep.json"))
    a = ap.parse_args()
    pairs = [tuple(p.split("/")) for p in a.pairs]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)

    def rows(seed: int, out: str):
        meths = [("PriorPaint balanced", *bp._ksampler("balanced", a.steps, s, sch)) for s, sch in pairs]
        bp.main(["--profile", a.profile, "--family", a.family, "--seed", str(seed), "--out", out], meths=meths)
        with open(out) as f:
            return json.load(f)

    if not a.seeds:
        rows(a.seed, a.out)
        return
    runs, head = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seed_list(a.seeds):
            d = rows(seed, os.path.join(tmp, f"seed{seed}.json"))
            head = head or {k: d[k] for k in ("profile", "observations", "samples", "node_defaults")}
            runs[seed] = d["rows"]
    groups = over_sets(runs)
    print_sets(groups)
    with open(a.out, "w") as f:
        json.dump(dict(head, bar=BAR, command="python tools/studies/posterior_base_sweep.py " + " ".join(sys.argv[1:]),
                       over_sets=groups, runs={str(k): v for k, v in runs.items()}), f, indent=1)
        f.write("\n")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
