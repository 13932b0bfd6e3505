"""The bench's measuring instrument: NFE counting by the harness, wall time, peak memory, methods.

* :class:`Counted` clones a MODEL and counts every model evaluation with an ``APPLY_MODEL`` wrapper
  (cond and uncond rows separately, from ComfyUI's own ``transformer_options["cond_or_uncond"]``),
  never trusting what a method says about its cost.
* :class:`PeakMemory` samples resident memory on CPU (or reads the CUDA allocator peak) during a run.
* :class:`Method` is one inpainting method with its settings; :func:`registered_methods` lists every
  method the bench knows, so technique issues add theirs in one place.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil
import torch

import comfy.patcher_extension
import comfy.sample
import comfy.samplers

from ..nodes.sampling import dps_sampler
from ..samplers.repaint import count_evaluations

NFE_KEY = "priorpaint_bench_nfe"


class Counted:
    """A clone of ``model`` whose model evaluations are counted per image (cond / uncond)."""

    def __init__(self, model):
        self.model = model.clone()
        self.reset()
        self.model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, NFE_KEY, self._wrap)

    def reset(self):
        self.cond_rows = 0
        self.uncond_rows = 0
        self.calls = 0

    def _wrap(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={}, **kw):
        cou = transformer_options.get("cond_or_uncond") or [0]
        rows = x.shape[0] // max(len(cou), 1)
        self.cond_rows += rows * sum(1 for c in cou if c == 0)
        self.uncond_rows += rows * sum(1 for c in cou if c != 0)
        self.calls += 1
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kw)

    def nfe(self, batch: int) -> tuple[float, float]:
        """(cond, uncond) evaluations per image for a run over ``batch`` images."""
        return self.cond_rows / batch, self.uncond_rows / batch


def empty_hole(latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The latent a benchmark hands the sampler: the hole zeroed (as VAE Encode (for Inpainting) greys it).

    ComfyUI starts a full-denoise run from ``latent + σ_max·noise``, so a latent that still holds the
    ground truth under the hole leaks it in: at σ_max ≈ 14.6 one pixel carries little, but the hole's
    mean colour over ~1000 pixels is then well known. ``mask`` is 1 in the hole (soft values weight)."""
    return latent * (1 - mask.to(latent))


def median_seconds(fn: Callable[[], object], n: int = 30) -> float:
    """Median wall time of ``n`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class PeakMemory:
    """Peak memory above the starting level during a ``with`` block, in MiB (RSS on CPU)."""

    def __init__(self, device: torch.device | str = "cpu", interval: float = 0.002):
        self.cuda = torch.device(device).type == "cuda"
        self.interval = interval
        self.peak_mb = 0.0

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        self.proc = psutil.Process(os.getpid())
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self.base) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.peak_mb = (self.peak - self.base) / 2**20


@dataclass
class Task:
    """One inpainting problem: the clean latent batch (copies of one input), its hole mask, conds."""

    latent: torch.Tensor  # [N, C, H, W], sampler space before process_latent_in (what a LATENT holds)
    mask: torch.Tensor  # [1, 1, H, W], 1 = hole
    positive: list
    negative: list
    seed: int = 0
    scheduler: str = "karras"  # the schedule every method uses on this problem (flow models: "simple")


@dataclass
class Method:
    """An inpainting method at one setting: ``run(model, task) -> samples [N, C, H, W]``."""

    name: str
    settings: str
    steps: int  # the schedule length it is compared with (core euler at equal steps)
    run: Callable
    family: str = "baseline"
    extra: dict = field(default_factory=dict)


def _sample_custom(model, task: Task, sampler, steps: int):
    """SamplerCustom's path: ``sampler`` over a ``steps``-step schedule of ``task.scheduler``."""
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), task.scheduler, steps)
    noise = comfy.sample.prepare_noise(task.latent, task.seed)
    return comfy.sample.sample_custom(model, noise, 1.0, sampler, sigmas, task.positive, task.negative, task.latent,
                                      noise_mask=task.mask, disable_pbar=True, seed=task.seed)


def core_replace(sampler_name: str, steps: int) -> Method:
    """ComfyUI core inpainting: KSampler with a noise mask (the known region replaced every step)."""

    def run(model, task: Task):
        noise = comfy.sample.prepare_noise(task.latent, task.seed)
        return comfy.sample.sample(model, noise, steps, 1.0, sampler_name, task.scheduler, task.positive, task.negative,
                                   task.latent, noise_mask=task.mask, disable_pbar=True, seed=task.seed)

    return Method(f"core replace {sampler_name}", f"{steps} steps", steps, run)


def repaint(levels: int, jump_length: int, resamples: int) -> Method:
    """Plain RePaint (fresh-noise jumps), the baseline of the RePaint+ issue."""
    from ..nodes.repaint import repaint_sampler

    sampler = repaint_sampler(mode="repaint", jump_length=jump_length, resamples=resamples, eta=1.0)

    def run(model, task: Task):
        return _sample_custom(model, task, sampler, levels)

    nfe = count_evaluations(levels, jump_length, resamples)
    return Method("RePaint", f"{levels} levels, j={jump_length}, r={resamples}", nfe, run, extra={"nfe": nfe})


def dps(steps: int, scale: float) -> Method:
    """DPS (gradient through the denoiser at every step)."""
    sampler = dps_sampler(scale)

    def run(model, task: Task):
        return _sample_custom(model, task, sampler, steps)

    return Method("DPS", f"{steps} steps, ζ={scale}", steps, run)


def repaint_plus(levels: int, variant: str = "B", jump_length: int = 1, resamples: int = 1,
                 kappa_mode: str = "capped", kappa_cap: float = 4.0, sigma_data: float = 1.0, window=(0.0, 1.0),
                 base: str | None = None) -> Method:
    """RePaint+ through the node's own SAMPLER (nodes/repaint.py)."""
    from ..nodes.repaint import repaint_sampler
    from ..samplers.repaint_plus import count_evaluations as rpp_count

    base_obj = comfy.samplers.sampler_object(base) if base else None
    sampler = repaint_sampler(base_obj, mode=f"repaint_plus_{variant.lower()}", jump_length=jump_length,
                              resamples=resamples, kappa_mode=kappa_mode, kappa_cap=kappa_cap, sigma_data=sigma_data,
                              window=window)

    def run(model, task: Task):
        return _sample_custom(model, task, sampler, levels)

    nfe = rpp_count(levels, jump_length, resamples, window)
    kap = f"κ={kappa_mode}" + (f"≤{kappa_cap:g}" if kappa_mode == "capped" else "")
    settings = f"{variant}, {levels} levels, j={jump_length}, r={resamples}, {kap}" + (f", base {base}" if base else "")
    return Method("RePaint+", settings, nfe, run, family="repaint_plus", extra={"nfe": nfe})


def gmm_seed_replace(steps: int, denoise: float = 1.0, sampler_name: str = "euler", components: int = 5) -> Method:
    """IS-Diff's seed only: the hole filled from a GMM of the known region, then core replace from the
    start σ of ``denoise`` (1 = from σ_max, as IS-Diff starts)."""
    from ..samplers.gmm_seed import gmm_seed

    def run(model, task: Task):
        lat = task.latent
        m = torch.nn.functional.interpolate(task.mask, size=lat.shape[-2:], mode="bilinear", align_corners=False)
        seeded, _ = gmm_seed(lat, m, components=components, seed=task.seed)
        noise = comfy.sample.prepare_noise(lat, task.seed)
        return comfy.sample.sample(model, noise, steps, 1.0, sampler_name, task.scheduler, task.positive,
                                   task.negative, seeded, denoise=denoise, noise_mask=task.mask, disable_pbar=True,
                                   seed=task.seed)

    return Method("GMM seed + replace", f"{sampler_name}, {steps} steps, denoise {denoise:g}, K={components}", steps,
                  run, family="is_diff")


def is_diff(steps: int, base: str | None = None, threshold: float = 1.5, attempts: int = 3, delta: int = 2,
            checkpoint: float = 0.5, threshold_mode: str = "fixed") -> Method:
    """Full IS-Diff: the Harmonized Sampler (GMM seeds + DCE-checked restarts) around a base sampler."""
    from ..nodes.isdiff import harmonized_sampler
    from ..nodes.repaint import repaint_sampler

    base_obj = repaint_sampler(mode="repaint_plus_b", jump_length=1, resamples=1, sigma_data=0.5) \
        if base == "repaint_plus" else None
    sampler = harmonized_sampler(base=base_obj, checkpoint=checkpoint, attempts=attempts, delta=delta,
                                 threshold=threshold, threshold_mode=threshold_mode)

    def run(model, task: Task):
        return _sample_custom(model, task, sampler, steps)

    tau = "τ auto" if threshold_mode == "auto" else f"τ={threshold:g}"
    return Method("IS-Diff", f"{steps} levels, N={attempts}, δ={delta}, {tau}, base {base or 'euler'}", steps, run,
                  family="is_diff")


def vipaint(iterations: int, dps_steps: int, keypoints: int = 2, t_e: int = 550, t_s: int = 400,
            dps_scale: float = 1.0) -> Method:
    """VIPaint through the node's own KSAMPLER (nodes/vipaint.py), one posterior sample per image."""
    from ..nodes.vipaint import schedule, vipaint_sampler
    from ..samplers.vipaint import VIPaintSettings, count_evaluations

    def run(model, task: Task):
        ms = model.get_model_object("model_sampling")
        kp, dps_s, grid = schedule(ms, t_e, t_s, keypoints, dps_steps)
        sampler = vipaint_sampler(keypoints=keypoints, samples=1, dps_steps=dps_steps, prior_grid=grid,
                                  settings=VIPaintSettings(iterations=iterations, dps_scale=dps_scale))
        sigmas = torch.tensor(kp + dps_s)
        noise = comfy.sample.prepare_noise(task.latent, task.seed)
        return comfy.sample.sample_custom(model, noise, 1.0, sampler, sigmas, task.positive, task.negative,
                                          task.latent, noise_mask=task.mask, disable_pbar=True, seed=task.seed)

    nfe = count_evaluations(keypoints, iterations, dps_steps)
    window = "" if (t_e, t_s) == (550, 400) else f", T {t_e}→{t_s}"
    return Method("VIPaint", f"K={keypoints}, {iterations} it, DPS {dps_steps}, ζ={dps_scale:g}{window}", nfe, run,
                  family="vipaint", extra={"nfe": nfe})


def registered_methods(profile: str, kind: str) -> list[Method]:
    """Every method the bench runs. ``kind``: "exact" (exact priors) or "image" (demo model)."""
    quick = profile == "quick"
    steps = (10, 20) if quick else (10, 20, 50)
    out = []
    for s in steps:
        out += [core_replace("euler", s), core_replace("dpmpp_2m", s)]
    sd = 1.0 if kind == "exact" else 0.5  # data std: the exact priors ~1, pixel images in [-1, 1] ~0.5
    if kind == "exact":
        out += [repaint(10, 2, 3)] if quick else [repaint(10, 2, 3), repaint(20, 5, 5), repaint(50, 10, 10)]
        out += [repaint_plus(10, "B", 1, 1, sigma_data=sd), repaint_plus(10, "B", 1, 2, "theory", sigma_data=sd)]
        if not quick:
            out += [repaint_plus(10, "A", 1, 2, "theory", sigma_data=sd), repaint_plus(20, "B", 1, 1, sigma_data=sd),
                    repaint_plus(20, "B", 1, 2, "theory", sigma_data=sd)]
    else:
        out += [repaint(10, 2, 3)] if quick else [repaint(10, 2, 3), repaint(20, 5, 5)]
        out += [repaint_plus(10, "B", 1, 1, sigma_data=sd)]
        if not quick:
            out += [repaint_plus(20, "B", 1, 1, sigma_data=sd), repaint_plus(20, "B", 2, 2, sigma_data=sd),
                    repaint_plus(20, "B", 1, 1, "1", sigma_data=sd)]
    out += [gmm_seed_replace(20)]
    if not quick:
        out += [gmm_seed_replace(20, denoise=0.8), gmm_seed_replace(50)]
    out += [is_diff(20)]
    if not quick:
        out += [is_diff(20, threshold_mode="auto"), is_diff(20, base="repaint_plus")]
    out += [dps(20 if quick else 50, 1.0 if kind == "exact" else 0.5)]
    zeta = 1.0 if kind == "exact" else 0.5
    if kind == "exact":
        out += [dps(150, 1.0)] if not quick else []
        out += [vipaint(10, 20)] if quick else [vipaint(50, 400), vipaint(20, 50), vipaint(10, 20), vipaint(0, 50),
                                                   vipaint(20, 50, t_e=900, t_s=700)]
    elif not quick:
        out += [vipaint(20, 50, dps_scale=zeta)]
    return out


def run_method(method: Method, counted: Counted, task: Task) -> tuple[torch.Tensor | None, dict]:
    """Run one method once; returns samples and a record (NFE per image, wall seconds, peak MiB).

    A method that raises (e.g. RePaint+ reporting a non-finite result) gives ``None`` and a record with
    an ``error``: the bench reports the failure instead of stopping."""
    counted.reset()
    error = None
    with PeakMemory(task.latent.device) as mem:
        t0 = time.perf_counter()
        try:
            out = method.run(counted.model, task)
        except (ValueError, RuntimeError) as e:
            out, error = None, str(e).split(";")[0][:160]
        wall = time.perf_counter() - t0
    cond, uncond = counted.nfe(task.latent.shape[0])
    rec = {"method": method.name, "settings": method.settings, "nfe_cond": cond, "nfe_uncond": uncond,
           "wall_s": wall, "peak_mb": mem.peak_mb, "steps": method.steps, "family": method.family}
    if error:
        rec["error"] = error
    return out, rec
