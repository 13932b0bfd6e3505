"""make bench-posterior: posterior fidelity on exact multimodal priors, PriorPaint beside core inpainting and
LanPaint 2.1.0 in the same run -> docs/posterior.json (read into docs/benchmarks.md, section i).

    python tools/bench/bench_posterior.py --profile quick|precise [--seed 0] [--no-lanpaint]

Problems: Gaussian mixtures over 3×4×4 (4 components of rank 3 plus a floor) whose component means agree on
the known pixels and differ inside the hole, so the hole's posterior is genuinely multimodal and its weights
(set by how each component's covariance explains the observation) are neither 0 nor 1; three masks (the
right half, a central 2×2 box, 8 scattered pixels; all channels); EPS and flow (shift 3) wrappers of the
exact denoiser. Each observation y is a fresh prior draw; ``quick``: 4 observations × 128 samples,
``precise``: 16 × 256. Per observation, against exact posterior samples, with exact-vs-exact floors:

* SW2     sliced Wasserstein-2 to exact samples (floor: two exact sample sets);
* TV      total variation between the components the samples fall in and the exact weights;
* mean    RMS over hole coordinates of (sample mean − exact mean) / exact std;
* NLL+    mean −log p(sample | y) minus that of exact samples, per hole dimension
          (> 0: implausible samples; < 0: too concentrated);

reported as mean ± standard error over observations. NFE per sample is counted by the harness. PriorPaint and
core inpainting run through the Inpaint KSampler at its default sampler and scheduler (KSampler's: euler,
"simple"); the balanced preset also runs around euler on karras (the node's default before issue 19) and around
euler_ancestral and uni_pc on "simple".
LanPaint runs through its own LanPaint_KSampler node (`../shared/vendor/lanpaint-2.1.0.tar.gz`, unpacked
under out/vendor/; skipped with a message when absent) at its default NumSteps and two others with all
samples in one batch, and (quick profile only: it is slow) at its default one sample per call.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
import comfyenv  # noqa: E402
import peers  # noqa: E402

comfyenv.comfy_setup()
import comfy.sample  # noqa: E402
import comfy.samplers  # noqa: E402
import comfy.utils  # noqa: E402

from priorpaint.samplers import metrics as M  # noqa: E402
from priorpaint.samplers.presets import PRESETS  # noqa: E402
from priorpaint.support import bench as B  # noqa: E402
from priorpaint.support.bench_data import POSTERIOR_FAMILIES as FAMILIES  # noqa: E402
from priorpaint.support.bench_data import POSTERIOR_SHAPE as SHAPE  # noqa: E402
from priorpaint.support.bench_data import posterior_masks  # noqa: E402
from priorpaint.support.bench_data import posterior_problem as problem  # noqa: E402
from priorpaint.support.comfy_models import empty_conditioning, exact_prior_model  # noqa: E402

comfy.utils.set_progress_bar_enabled(False)
ROOT = comfyenv.ROOT
PROFILES = {"quick": (4, 128), "precise": (16, 256)}


# ---------------------------------------------------------------------------------------------
# methods: (name, settings, run(model, latent [n, C, H, W], mask [1, 1, H, W], seed) -> samples)
# ---------------------------------------------------------------------------------------------
def _ksampler(method: str, steps: int, sampler: str | None = None, scheduler: str | None = None):
    """``(settings, run)``: the Inpaint KSampler's ``method`` at the node's defaults unless told."""
    from priorpaint.nodes.ksampler import DEFAULT_SAMPLER, DEFAULT_SCHEDULER, run_ksampler

    sampler, scheduler = sampler or DEFAULT_SAMPLER, scheduler or DEFAULT_SCHEDULER

    def run(model, latent, mask, seed):
        return run_ksampler(model, seed, steps, 1.0, sampler, scheduler, empty_conditioning(), empty_conditioning(),
                            {"samples": latent, "noise_mask": mask}, method)["samples"]
    return f"{sampler}, {scheduler}, {steps} steps", run


def _lanpaint(node_cls, steps: int, num_steps: int, per_sample: bool):
    run = peers.lanpaint_sampler(node_cls, steps, num_steps, per_sample)
    return lambda model, latent, mask, seed: run(model, empty_conditioning(), empty_conditioning(),
                                                 {"samples": latent, "noise_mask": mask}, seed)


def node_defaults() -> str:
    """The settings label of the Inpaint KSampler's defaults at 20 steps (the rows the acceptance reads)."""
    return _ksampler("balanced", 20)[0]


def methods(with_lanpaint: bool, per_sample: bool) -> list[tuple[str, str, object]]:
    out = [("core replace", *_ksampler("core", 20)), ("core replace", *_ksampler("core", 40))]
    for name in PRESETS:
        if name != "core":
            out.append((f"PriorPaint {name}", *_ksampler(name, 20)))
    out.append(("PriorPaint balanced", *_ksampler("balanced", 10)))
    # around other base samplers and schedules users run: the node's default before issue 19 (euler, karras), an
    # ancestral and a multistep sampler; tools/studies/posterior_base_sweep.py runs any pair
    default = node_defaults()
    for sampler, scheduler in (("euler", "karras"), ("euler", "simple"), ("euler_ancestral", "simple"),
                               ("uni_pc", "simple")):
        settings, run = _ksampler("balanced", 20, sampler, scheduler)
        if settings != default:
            out.append(("PriorPaint balanced", settings, run))
    node = peers.load_lanpaint() if with_lanpaint else None
    if node is not None:  # at its own node's defaults (euler, karras; NumSteps 5) and two other NumSteps
        for num in (5, 2, 10):
            out.append((peers.LANPAINT, f"euler, karras, 20 steps, NumSteps {num}, batch",
                        _lanpaint(node, 20, num, False)))
        if per_sample:
            out.append((peers.LANPAINT, "euler, karras, 20 steps, NumSteps 5, one sample per call",
                        _lanpaint(node, 20, 5, True)))
    return out


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------
def observation_metrics(samples: torch.Tensor, post, exact: torch.Tensor, exact2: torch.Tensor, hole: torch.Tensor,
                        seed: int) -> dict:
    un = hole.reshape(-1)
    gp = lambda: torch.Generator().manual_seed(seed)  # noqa: E731 - the same projections for sample and floor
    k = post.weights.numel()
    std = post.marginal_std()[un].clamp_min(1e-12)
    mean = post.mean()[un]

    def mean_err(x):
        return float((((x[:, un].mean(0) - mean) / std) ** 2).mean().sqrt())

    ref = -post.log_prob(exact, un).mean()
    return {"sw2": M.sliced_wasserstein2(samples, exact, generator=gp()),
            "sw2_floor": M.sliced_wasserstein2(exact2, exact, generator=gp()),
            "tv": M.tv_distance(M.component_histogram(post.assign(samples, un), k), post.weights),
            "tv_floor": M.tv_distance(M.component_histogram(post.assign(exact2, un), k), post.weights),
            "mean_err": mean_err(samples), "mean_err_floor": mean_err(exact2),
            "nll_excess": float((-post.log_prob(samples, un).mean() - ref) / int(un.sum())),
            "nll_excess_floor": float((-post.log_prob(exact2, un).mean() - ref) / int(un.sum()))}


def summarise(per_obs: list[dict]) -> dict:
    out = {}
    for key in per_obs[0]:
        v = torch.tensor([r[key] for r in per_obs], dtype=torch.float64)
        out[key] = float(v.mean())
        out[key + "_se"] = float(v.std() / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    out["sw2_ratio"] = out["sw2"] / out["sw2_floor"]
    return out


def main(argv: list[str] | None = None, meths: list | None = None):
    """The bench over ``methods()``, or over ``meths`` (``(name, settings, run)`` rows) when given."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=list(PROFILES), default="quick")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-lanpaint", action="store_true")
    ap.add_argument("--family", choices=FAMILIES + ("all",), default="all")
    ap.add_argument("--only", default="", help="run only methods whose name contains this")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "posterior.json"))
    a = ap.parse_args(argv)
    n_obs, n = PROFILES[a.profile]
    t_start = time.time()
    rows = []
    # one LanPaint call per sample costs ~40 s per 128 samples here: the quick profile only
    if meths is None:
        meths = methods(not a.no_lanpaint, per_sample=a.profile == "quick")
    meths = [m for m in meths if a.only in m[0]]
    families = FAMILIES if a.family == "all" else (a.family,)
    for family, (mname, hole) in ((f, mh) for f in families for mh in posterior_masks(SHAPE).items()):
        prior = problem(family, hole, a.seed + 1)
        known = ~hole.reshape(-1)
        mask = hole[:1].float()[None]  # [1, 1, 4, 4]
        obs = []
        for o in range(n_obs):
            y = prior.sample(1, torch.Generator().manual_seed(1000 * a.seed + 100 + o))[0] * known
            post = prior.posterior(y, known)
            exact = post.sample(n, torch.Generator().manual_seed(2 * o + 1))
            exact2 = post.sample(n, torch.Generator().manual_seed(2 * o + 2))
            obs.append((y, post, exact, exact2))
        for prediction in ("eps", "flow"):
            counted = B.Counted(exact_prior_model(prior, prediction))
            for name, settings, run in meths:
                per_obs, nfe, wall = [], [], 0.0
                for o, (y, post, exact, exact2) in enumerate(obs):
                    latent = y.float().reshape(1, *SHAPE).expand(n, -1, -1, -1).contiguous()
                    counted.reset()
                    t0 = time.perf_counter()
                    with torch.inference_mode():
                        out = run(counted.model, latent, mask, a.seed + 7919 * o)
                    wall += time.perf_counter() - t0
                    nfe.append(counted.nfe(n)[0])
                    per_obs.append(observation_metrics(out.reshape(n, -1).double(), post, exact, exact2, hole,
                                                       a.seed + o))
                r = dict(summarise(per_obs), family=family, mask=mname, prediction=prediction, method=name, settings=settings,
                         nfe=sum(nfe) / len(nfe), wall_s=wall, observations=n_obs, samples=n)
                rows.append(r)
                print(f"{family:5s} {mname:9s} {prediction:4s} {name:20s} {settings:44s} NFE {r['nfe']:5.1f} "
                      f"SW2 {r['sw2_ratio']:.2f}×floor  TV {r['tv']:.3f} (floor {r['tv_floor']:.3f})  "
                      f"mean {r['mean_err']:.3f} (floor {r['mean_err_floor']:.3f})  NLL+ {r['nll_excess']:+.3f}"
                      f"±{r['nll_excess_se']:.3f}  {wall:.1f}s", flush=True)
    with open(a.out, "w") as f:
        json.dump({"profile": a.profile, "observations": n_obs, "samples": n, "seed": a.seed,
                   "node_defaults": node_defaults(), "rows": rows, "minutes": (time.time() - t_start) / 60},
                  f, indent=1)
        f.write("\n")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
