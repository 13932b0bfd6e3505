"""Where RePaint+'s distance from the exact posterior comes from (issue 19), in pure torch.

    python tools/studies/dispersion.py DELTA METHOD[:key=value...] ...

    e.g.  python tools/studies/dispersion.py 0.0 replace oracle rpp rpp:r=3:levels=10 oracle:levels=40

Gaussian-mixture priors over 3x4x4 whose components share their means on the known pixels
(``DELTA`` > 0 moves the known-pixel means apart by that much per coordinate), three masks (half, a
central box, scattered pixels), six observations x 256 samples, EPS (karras 0.0292..14.6) and flow
(shift 3, karras; option ``sched=simple`` for ComfyUI's "simple") schedules, Euler moves. Methods:

* ``replace``: core inpainting;
* ``rpp``: the RePaint+ core transform, 0.2's settings unless told; options r, levels, kmode, cap,
  eta, warm, solver, jump (harmonise every jump-th level), wlo (harmonise from that fraction of the
  levels on), free (the signal-free flow level σ = 1: next, midpoint or skip), poor (the core's
  ``stand_in_above``: with free=next, levels above that σ_VE harmonise at the first level at or below it;
  default inf, 0.2's behaviour; the node's default is ``rpp:warm=1:solver=krylov:free=next:poor=10``);
* ``oracle``: Euler driven by the *exact* conditional denoiser E[x0_hole | x_hole, x0_known = y],
  what any harmonisation can at best reach at that schedule (``free`` = next or midpoint evaluates
  its σ = 1 call there, as RePaint+ does, and ``poor`` its signal-poor levels);
* options of every method: ``above=S`` / ``below=S`` replace its prediction by the oracle's where the VE
  level σ_VE > S / σ_VE ≤ S (the method still runs there, so its own state moves as without them): which
  band of levels its error comes from; ``eta=1`` moves by ComfyUI's euler_ancestral instead of euler (its
  flow form on flow);
* ``smc``: the n samples as particles of sequential importance resampling, weighted by
  N(y_known; D(x)_known, σ² + tau²) without gradients; ``switch`` > 0: particles evolve
  unconditionally while σ > switch, then core replacement; options tau, switch.

Prints sliced W2 / exact-vs-exact floor, the NLL excess per hole dimension, and TV of component
weights beside its floor. FAMILY=hole selects the bench's *hole* family (COUPLING sets its coupling).
"""

import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import packimport  # noqa: E402

packimport.import_pack()
from priorpaint.samplers import metrics as M  # noqa: E402
from priorpaint.samplers import repaint_plus as rpp  # noqa: E402
from priorpaint.support.bench_data import posterior_masks  # noqa: E402
from priorpaint.support.exact_priors import GaussianMixturePrior, make_gaussian_mixture, make_hole_mixture  # noqa: E402

SHAPE = (3, 4, 4)
FLOAT_OPTIONS = ("cap", "eta", "tau", "switch", "wlo", "above", "below", "poor")  # METHOD:key=value options
INT_OPTIONS = ("levels", "r", "warm", "jump")


def karras(n, lo, hi, rho=7.0):
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    s = (hi ** (1 / rho) + ramp * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    return torch.cat([s, torch.zeros(1, dtype=torch.float64)]).tolist()


def exact_conditional(prior, y, hole, n):
    """``predict(x, c, σ_VE)``: the exact conditional denoiser E[x0_hole | x_hole, x0_known = y] at a state ``x`` in
    sampler coordinates ``c·(x0 + σ_VE·ε)``, with the known pixels set to ``y``."""
    post = prior.posterior(y, ~hole.reshape(-1))
    un = hole.reshape(-1)
    sub = GaussianMixturePrior(post.weights, post.means[:, un], post.covs[:, un][:, :, un])

    def predict(x, c, sv):
        out = y.expand(n, -1).clone()
        out[:, un] = sub.denoise(x[:, un] / c, torch.full((n,), sv, dtype=torch.float64))
        return out
    return predict


def run(prior, y, hole, kind, method, n, seed, levels=20, r=1, kmode="capped", cap=4.0, eta=0.0, tau=0.1, switch=0.0,
        warm=0, solver="richardson", jump=1, wlo=0.0, free="skip", sched="karras", above=0.0, below=0.0, poor=math.inf):
    g = torch.Generator().manual_seed(seed)

    def noise(*a):
        return torch.randn(n, prior.dim, dtype=torch.float64, generator=g)

    m = hole.reshape(-1).double()[None].expand(n, -1)
    if kind == "eps":
        sig = karras(levels, 0.0292, 14.6146)

        def signal(s):
            return (1.0, s)

        def den(x, s):
            return prior.denoise(x, torch.full((n,), float(s), dtype=torch.float64))

        def known_at(s, e):
            return y + float(s) * e

        x = sig[0] * noise()
    else:
        shift = 3.0
        lo = shift * 1e-3 / (1 + (shift - 1) * 1e-3)
        sig = karras(levels, lo, 1.0)
        if sched == "simple":  # ComfyUI's "simple" on a shift-3 flow model: t linear, then shifted
            t = torch.linspace(1, 0, levels + 1, dtype=torch.float64)
            sig = (shift * t / (1 + (shift - 1) * t)).tolist()

        def signal(s):
            return (1 - s, float("inf") if s >= 1 else s / (1 - s))

        def den(x, s):
            s = min(float(s), 1 - 1e-4)
            return prior.denoise(x / (1 - s), torch.full((n,), s / (1 - s), dtype=torch.float64))

        def known_at(s, e):
            return (1 - float(s)) * y + float(s) * e

        x = noise()
    if method == "replace":

        def model(x, s):
            return (1 - m) * y + m * den((1 - m) * known_at(s, noise()) + m * x, s)
    elif method == "oracle":
        predict = exact_conditional(prior, y, hole, n)
        # RePaint+'s own rule for the level a call is evaluated at (signal_free, stand_in_above)
        rule = rpp.RePaintPlusDenoiser(None, y, None, None, None, sig, signal=signal, signal_free=free,
                                       stand_in_above=poor)

        def model(x, s):
            at = rule.stand_in(float(s))
            c, sv = signal(float(s) if at is None else at)
            return predict(x, 1.0, 1e4) if c == 0 else predict(x, c, sv)
    elif method == "smc":
        # sequential importance resampling over the n samples as particles: weight by how well the
        # unconditional denoiser at the (replace-injected) state predicts the known pixels,
        # N(y_known; x0_known, v(σ)), v = σ_VE² + tau², increments of its log (TDS-style, no gradients)
        kn = (1 - m[0]).bool()
        state = {"prev": torch.zeros(n, dtype=torch.float64), "logw": torch.zeros(n, dtype=torch.float64)}

        def model(x, s):
            # free: the particles' own known coordinates evolve unconditionally (twisting only by the
            # weights) while σ_VE > switch; below it, replace as core inpainting does
            free = signal(float(s))[1] > switch
            x_in = x if free else (1 - m) * known_at(s, noise()) + m * x
            x0 = den(x_in, s)
            if free:
                ll = -0.5 * ((y - x0)[:, kn] ** 2).sum(1) / ((min(signal(float(s))[1], 1e4) ** 2) + tau**2)
                state["logw"] += ll - state["prev"]
                state["prev"] = ll
                return x0
            state["prev"] = torch.zeros(n, dtype=torch.float64)
            state["logw"] = torch.zeros(n, dtype=torch.float64)
            return (1 - m) * y + m * x0

        model_inj = model

        def model(x, s):
            if switch > 0:
                return model_inj(x, s)
            x_in = (1 - m) * known_at(s, noise()) + m * x
            x0 = den(x_in, s)
            sv = signal(float(s))[1]
            v = (min(sv, 1e4) ** 2) + tau**2
            ll = -0.5 * ((y - x0)[:, kn] ** 2).sum(1) / v
            state["logw"] += ll - state["prev"]
            state["prev"] = ll
            return (1 - m) * y + m * x0
    else:
        model = rpp.RePaintPlusDenoiser(den, y, m, known_at, noise, sig, "B", jump, r, kmode, cap, 1.0, (wlo, 1.0),
                                        signal=signal, warm_start=bool(warm), solver=solver,
                                        signal_free=free, stand_in_above=poor)
    if above > 0 or below > 0:  # the exact conditional denoiser in one band of σ_VE: where does the error arise?
        predict = exact_conditional(prior, y, hole, n)
        method_model = model

        def model(x, s):
            c, sv = signal(float(s))
            x0 = method_model(x, s)  # called at every level, so the method's own state moves as without the band
            if c == 0 or not ((above > 0 and sv > above) or (below > 0 and sv <= below)):
                return x0
            return predict(x, c, sv)
    for i in range(levels):
        s, s2 = sig[i], sig[i + 1]
        x0 = model(x, s)
        if method == "smc":  # resample particles (x and its prediction together) when the ESS drops below n/2
            w = torch.softmax(state["logw"], 0)
            if 1.0 / float((w**2).sum()) < n / 2:
                idx = torch.multinomial(w, n, replacement=True, generator=g)
                x, x0, state["prev"] = x[idx], x0[idx], state["prev"][idx]
                state["logw"] = torch.zeros(n, dtype=torch.float64)
        d = (x - x0) / s
        if eta > 0 and s2 > 0 and kind == "eps":  # ComfyUI's euler_ancestral
            su = min(s2, eta * math.sqrt(s2**2 * (s**2 - s2**2) / s**2))
            sd = math.sqrt(s2**2 - su**2)
            x = x + d * (sd - s) + su * noise()
        elif eta > 0 and s2 > 0:  # its flow form (sample_euler_ancestral_RF)
            sd = s2 * (1 + (s2 / s - 1) * eta)
            renoise = math.sqrt(s2**2 - sd**2 * (1 - s2) ** 2 / (1 - sd) ** 2)
            x = (1 - s2) / (1 - sd) * (x + d * (sd - s)) + renoise * noise()
        else:
            x = x + d * (s2 - s)
    return (1 - m) * y + m * x


def evaluate(prior, y, hole, samples, exact, exact2, post):
    un = hole.reshape(-1)
    nll = -post.log_prob(samples, un).mean() + post.log_prob(exact, un).mean()
    gp = torch.Generator().manual_seed(9)
    sw = M.sliced_wasserstein2(samples, exact, generator=gp)
    fl = M.sliced_wasserstein2(exact2, exact, generator=torch.Generator().manual_seed(9))
    return sw, fl, float(nll) / int(un.sum())


def make(hole, delta, seed=1, K=4, floor=0.3, comp_scale=0.35):
    if os.environ.get("FAMILY") == "hole":  # components identical on the known pixels, coupled into the hole
        return make_hole_mixture(SHAPE, hole, components=K, rank=3, seed=seed, floor=floor, comp_scale=comp_scale,
                                 coupling=float(os.environ.get("COUPLING", "2")))
    p = make_gaussian_mixture(SHAPE, components=K, rank=3, seed=seed, shared=~hole, floor=floor, comp_scale=comp_scale)
    g = torch.Generator().manual_seed(seed + 50)
    means = p.means.clone()
    kn = ~hole.reshape(-1)
    means[:, kn] += delta * torch.randn(K, int(kn.sum()), dtype=torch.float64, generator=g)
    return GaussianMixturePrior(p.weights, means, p.covs, shape=SHAPE)


if __name__ == "__main__":
    n, nobs = 256, 6
    delta = float(sys.argv[1])
    for mname, hole in posterior_masks(SHAPE).items():
        prior = make(hole, delta)
        for kind in ("eps", "flow"):
            res = {}
            ws = []
            for o in range(nobs):
                y = prior.sample(1, torch.Generator().manual_seed(100 + o))[0]
                y = y * (~hole.reshape(-1))
                post = prior.posterior(y, ~hole.reshape(-1))
                ws.append(post.weights.max().item())
                ex = post.sample(n, torch.Generator().manual_seed(1))
                ex2 = post.sample(n, torch.Generator().manual_seed(2))
                un = hole.reshape(-1)
                for meth in sys.argv[2:]:
                    name, *opt = meth.split(":")
                    kw = dict(a.split("=") for a in opt)
                    kw = {
                        k: float(v) if k in FLOAT_OPTIONS else int(v) if k in INT_OPTIONS else v
                        for k, v in kw.items()
                    }
                    out = run(prior, y, hole, kind, name, n, 7 + o, **kw)
                    sw, fl, nl = evaluate(prior, y, hole, out, ex, ex2, post)
                    tv = M.tv_distance(M.component_histogram(post.assign(out, un), 4), post.weights)
                    tvf = M.tv_distance(M.component_histogram(post.assign(ex, un), 4), post.weights)
                    res.setdefault(meth, []).append((sw, fl, nl, tv, tvf))
            print(mname, kind, "max post weight per obs", [round(w, 2) for w in ws])
            for meth, v in res.items():
                t = torch.tensor(v)
                print(
                    f"{mname:9s} {kind:4s} {meth:32s} sw2/floor {float(t[:, 0].mean() / t[:, 1].mean()):.2f} nll-ex {float(t[:, 2].mean()):+.3f} tv {float(t[:, 3].mean()):.3f} (floor {float(t[:, 4].mean()):.3f})"
                )
