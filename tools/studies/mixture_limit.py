"""What variant B's fixed point leaves out on a mixture, level by level (issue 19; docs/repaint-plus.md, "The term
the fixed point leaves out").

    python tools/studies/mixture_limit.py [--family hole|coded] [--seed 0] [--observations 2] [--samples 64]

On `make bench-posterior`'s priors (same family, masks and --seed) and the exact mixture denoiser, at each VE level
σ, from hole states drawn as the exact conditional path has them (x0 from the posterior, x_hole = x0_hole + σ·ε),
three hole predictions against the exact conditional denoiser E[x0_hole | x_hole, x0_known = y]:

* plain    the unconditional prediction with the known pixels freshly noised (core inpainting's call);
* newton   one Krylov solve of k⊙D(x) = k⊙y from freshly noised known pixels (as many rounds as known
           coordinates: the local Gaussian conditioning, what the rounds do without a warm start);
* fixed    the converged solve, D(x) = y on the known pixels (what variant B's warm-started rounds approach);

as root-mean-square error over hole coordinates in units of the posterior's std, and the implied noise of the
fixed point's known pixels (RMS of (x_known − y)/σ; a real draw has ≈ 1), with the largest remaining residual of
the solve and the share of samples whose solve did not get below 1e-6. By
tests/core/test_repaint_plus_mixture_limit.py each error is exactly σ²∇_{x_hole} log p(x0_known = y | x) at the
state the prediction is taken at; for a single Gaussian it vanishes at the fixed point.
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import packimport  # noqa: E402

packimport.import_pack()
from priorpaint.samplers import repaint_plus as rpp  # noqa: E402
from priorpaint.support.bench_data import POSTERIOR_SHAPE, posterior_masks, posterior_problem  # noqa: E402
from priorpaint.support.exact_priors import GaussianMixturePrior  # noqa: E402

F = torch.float64
LEVELS = (0.05, 0.1, 0.3, 0.5, 1.0, 1.5, 3.0, 5.0, 10.0, 20.0)


def predictions(prior, y, hole, x, sigma, g, max_calls=12):
    """``{"plain", "newton", "fixed"}`` hole predictions at ``x`` (hole coordinates used), and the fixed point's
    implied known-pixel noise."""
    n, un = x.shape[0], hole
    kn = ~un
    m = un.to(F)[None].expand(n, -1)

    def den(z, s):
        return prior.denoise(z, torch.full((n,), float(s), dtype=F))

    def transform(warm):
        return rpp.RePaintPlusDenoiser(den, y, m, lambda s, e: y + float(s) * e,
                                       lambda *_: torch.randn(n, prior.dim, dtype=F, generator=g), [sigma, 0.0], "B",
                                       1, int(kn.sum()), "capped", 4.0, 1.0, solver="krylov", warm_start=warm,
                                       stand_in_above=math.inf)
    fresh = torch.where(un, x, y + sigma * torch.randn(n, prior.dim, dtype=F, generator=g))
    out = {"plain": den(fresh, sigma)[:, un], "newton": transform(False)(x, sigma)[:, un]}
    model = transform(True)
    for _ in range(max_calls):  # warm-started solves at the same level until D(x) = y on the known pixels
        fixed = model(x, sigma)
        xf = torch.where(un, x, y + sigma * model._eps)
        residual = (den(xf, sigma)[:, kn] - y[kn]).abs().amax(1)  # per sample
        if float(residual.max()) < 1e-9:  # stop there: solving on round-off residuals only costs time
            break
    out["fixed"] = fixed[:, un]
    return out, float(model._eps[:, kn].pow(2).mean().sqrt()), residual


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="hole", choices=("hole", "coded"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--observations", type=int, default=2)
    ap.add_argument("--samples", type=int, default=64,
                    help="per observation (about a minute for the defaults on 2 cores)")
    a = ap.parse_args()
    print(f"{a.family} family, --seed {a.seed}: RMS error / posterior std (plain · newton · fixed), implied noise")
    for mname, hole3 in posterior_masks(POSTERIOR_SHAPE).items():
        prior = posterior_problem(a.family, hole3, a.seed + 1)
        un = hole3.reshape(-1)
        rows = {s: [] for s in LEVELS}
        for o in range(a.observations):  # the bench's observations
            y = prior.sample(1, torch.Generator().manual_seed(1000 * a.seed + 100 + o))[0] * (~un)
            post = prior.posterior(y, ~un)
            sub = GaussianMixturePrior(post.weights, post.means[:, un], post.covs[:, un][:, :, un])
            std = post.marginal_std()[un]
            g = torch.Generator().manual_seed(a.seed + 7919 * o)
            x0 = post.sample(a.samples, g)
            for s in LEVELS:
                x = x0 + s * torch.randn(x0.shape, dtype=F, generator=g)
                exact = sub.denoise(x[:, un], torch.full((a.samples,), s, dtype=F))
                preds, noise, residual = predictions(prior, y, un, x, s, g)
                err = {k: float((((v - exact) / std) ** 2).mean().sqrt()) for k, v in preds.items()}
                rows[s].append((err["plain"], err["newton"], err["fixed"], noise, float(residual.max()),
                                float((residual > 1e-6).to(F).mean())))
        print(f"\n{mname}")
        for s, v in rows.items():
            t = torch.tensor(v, dtype=F).mean(0)
            print(f"  σ_VE {s:5.2f}  {t[0]:.3f} · {t[1]:.3f} · {t[2]:.3f}   implied noise {t[3]:5.2f}   "
                  f"(fixed-point residual {max(r[4] for r in v):.0e}, {t[5]:.0%} of samples unsolved)")


if __name__ == "__main__":
    main()
