"""Glue between ComfyUI's sampler API and the pure-torch samplers in ``samplers/``.

A ComfyUI sampler function (``KSAMPLER``) receives the guider-wrapped model in *sampler space*
(EPS/V: ``x = x0 + σε``; flow/CONST: ``x = (1 − s)x0 + sε``). :class:`VEView` presents it to the core
in VE coordinates, exactly:

* ``σ_VE = s/(1 − s)`` and ``x_VE = x/(1 − s)`` for flow models, identity otherwise;
* ``denoise(x_VE, σ_VE)`` calls the model with the built-in inpaint blend switched off
  (``denoise_mask=None``), because the core re-imposes the known region itself;
* the mask honours ``denoise_mask_function`` (Differential Diffusion) at every σ;
* noise comes from a generator seeded with ``extra_args["seed"]`` (reproducible runs);
* every model call checks ComfyUI's interrupt flag;
* gradients (DPS, VIPaint) follow comfyui-integration.md §3: ``inference_mode(False)``, clones,
  ``torch.autograd.grad``, detached results.
"""
from __future__ import annotations

from typing import Callable

import torch

import comfy.model_management
import comfy.model_sampling
import comfy.samplers

FLOW_SIGMA_CAP = 1.0 - 1e-4  # flow σ = 1 is pure noise: x_VE = x/(1−σ) needs σ < 1


def make_weights_autograd_safe(module: torch.nn.Module) -> None:
    """Replace inference-mode parameters/buffers by ordinary copies of the same values.

    Weights loaded while ComfyUI executes a prompt are inference tensors, which autograd cannot save
    (comfyui-integration.md §3.3, "de-inference once"). Values are identical, so the BaseModel shared
    by every clone of the MODEL behaves exactly as before; only autograd can now pass through it.
    """
    with torch.inference_mode(False):
        for m in module.modules():
            for name, p in list(m._parameters.items()):
                if p is not None and p.is_inference():
                    m._parameters[name] = torch.nn.Parameter(p.detach().clone(), requires_grad=False)
            for name, b in list(m._buffers.items()):
                if b is not None and b.is_inference():
                    m._buffers[name] = b.detach().clone()


def _pack_copy(t: torch.Tensor) -> torch.Tensor:
    return t.clone() if not isinstance(t, torch.nn.Parameter) else t


def _unpack(t: torch.Tensor) -> torch.Tensor:
    return t


class VEView:
    """The model, mask, known image and noise of one ``KSAMPLER`` call, in VE coordinates."""

    def __init__(self, model, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict):
        self.model = model
        self.ms = model.inner_model.inner_model.model_sampling
        self.flow = isinstance(self.ms, comfy.model_sampling.CONST)
        self.sigmas = sigmas
        self.extra = dict(extra_args or {})
        self.mask0 = self.extra.get("denoise_mask")
        self.extra["denoise_mask"] = None  # the core does the known-region blending
        self.mask_fn = self.extra.get("model_options", {}).get("denoise_mask_function")
        self.y = model.latent_image if getattr(model, "latent_image", None) is not None else torch.zeros_like(x)
        self.s_in = x.new_ones([x.shape[0]])
        seed = int(self.extra.get("seed") or 0)
        self.generator = torch.Generator(device=x.device).manual_seed(seed + 0x5EED)
        self.shape, self.dtype, self.device = x.shape, x.dtype, x.device
        self.evaluations = 0
        self._progress = None  # set by callback() when progress should count every model call
        self._diff_extra = None  # the cloned extra args once prepare_autograd() has run

    # -- coordinates -------------------------------------------------------------------------
    def sampler_sigma(self, s) -> float:
        s = float(s)
        return min(s, FLOW_SIGMA_CAP) if self.flow else s

    def to_ve_sigma(self, s) -> float:
        s = self.sampler_sigma(s)
        return s / (1.0 - s) if self.flow else s

    def from_ve_sigma(self, s_ve: float) -> float:
        return s_ve / (1.0 + s_ve) if self.flow else s_ve

    def ve_sigmas(self) -> list[float]:
        return [self.to_ve_sigma(s) for s in self.sigmas]

    def to_ve(self, x: torch.Tensor, s) -> torch.Tensor:
        return x / (1.0 - self.sampler_sigma(s)) if self.flow else x

    def from_ve(self, x_ve: torch.Tensor, s_ve: float) -> torch.Tensor:
        return x_ve * (1.0 - self.from_ve_sigma(s_ve)) if self.flow else x_ve

    # -- model -------------------------------------------------------------------------------
    def mask(self, s_ve: float) -> torch.Tensor:
        """The hole mask (1 = regenerate) at this σ, after ``denoise_mask_function`` if one is set."""
        if self.mask0 is None:
            return torch.ones(self.shape, dtype=self.dtype, device=self.device)
        if self.mask_fn is None:
            return self.mask0
        s = torch.full((self.shape[0],), self.from_ve_sigma(s_ve), device=self.device)
        return self.mask_fn(s, self.mask0, extra_options={"model": self.model.inner_model, "sigmas": self.sigmas})

    def known_at(self, s_ve: float, noise: torch.Tensor) -> torch.Tensor:
        """The known image noised to σ the model's own way (``BaseModel.scale_latent_inpaint``, i.e.
        ``model_sampling.noise_scaling`` for ordinary models), returned in VE coordinates."""
        s = self.from_ve_sigma(s_ve)
        base = self.model.inner_model.inner_model
        sig = torch.full((self.shape[0],), s, dtype=torch.float32, device=self.device)
        return self.to_ve(base.scale_latent_inpaint(sigma=sig, noise=noise, latent_image=self.y), s)

    def denoise(self, x_ve: torch.Tensor, s_ve: float) -> torch.Tensor:
        """``D(x_VE, σ_VE)``: the x0 prediction (clean space is the same in every parameterisation)."""
        comfy.model_management.throw_exception_if_processing_interrupted()
        s = self.from_ve_sigma(s_ve)
        x0 = self.model(self.from_ve(x_ve, s_ve), s * self.s_in, **self.extra)
        self._count(x_ve, x0, s_ve)
        return x0

    def denoise_grad(self, x_ve: torch.Tensor, s_ve: float, loss_fn: Callable[[torch.Tensor], torch.Tensor]):
        """``(D(x), ∇_x loss_fn(D(x)))`` with autograd re-enabled inside ComfyUI's inference mode."""
        with torch.inference_mode(False), torch.enable_grad():
            self.prepare_autograd()
            xv = x_ve.detach().clone().requires_grad_(True)
            x0 = self.denoise_diff(xv, s_ve)
            (grad,) = torch.autograd.grad(loss_fn(x0.float()), xv)
        return x0.detach().clone(), grad.detach().clone()

    def prepare_autograd(self, vae=None) -> None:
        """Make the model (and ``vae``) differentiable for :meth:`denoise_diff`; call inside
        ``torch.inference_mode(False)``. Once per sampling run: weights are de-inferenced (same values);
        the extra args and this run's conds (ComfyUI's per-run copies, never the user's) are cloned so
        that autograd may save them (comfyui-integration.md §3.3–3.4)."""
        if vae is not None:
            make_weights_autograd_safe(vae.first_stage_model)
        if self._diff_extra is not None:
            return
        make_weights_autograd_safe(self.model.inner_model.inner_model)
        self._diff_extra = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in self.extra.items()}
        conds = getattr(self.model.inner_model, "conds", None) or {}
        for entries in conds.values():
            for c in entries:
                mc = c.get("model_conds") if isinstance(c, dict) else None
                if not mc:
                    continue
                for k, v in list(mc.items()):
                    t = getattr(v, "cond", None)
                    if torch.is_tensor(t) and t.is_inference() and hasattr(v, "_copy_with"):
                        mc[k] = v._copy_with(t.clone())

    def denoise_diff(self, x_ve: torch.Tensor, s_ve: float) -> torch.Tensor:
        """``D(x_VE, σ_VE)`` with the autograd graph kept (after :meth:`prepare_autograd`, inside
        ``inference_mode(False)`` and ``enable_grad``); progress/previews get detached copies."""
        comfy.model_management.throw_exception_if_processing_interrupted()
        s = self.from_ve_sigma(s_ve)
        # saved tensors are copied: ComfyUI's models update some activations in place (Flux's blocks do
        # ``x += ...``), which would otherwise invalidate what autograd saved for the backward pass
        with torch.autograd.graph.saved_tensors_hooks(_pack_copy, _unpack):
            x0 = self.model(self.from_ve(x_ve, s_ve), s * self.s_in.clone(), **self._diff_extra)
        self._count(x_ve.detach(), x0.detach(), s_ve)
        return x0

    def _count(self, x_ve, x0, s_ve) -> None:
        self.evaluations += 1
        if self._progress is not None:
            self._progress({"x": x_ve, "denoised": x0, "sigma": s_ve})

    def noise(self) -> torch.Tensor:
        return torch.randn(self.shape, generator=self.generator, dtype=torch.float32,
                           device=self.device).to(self.dtype)

    def callback(self, callback, expected: int | None = None) -> Callable[[dict], None] | None:
        """Map core progress (VE) onto ComfyUI's sampler callback (previews, progress bar, x0 output).

        With ``expected`` (the method's total model evaluations) the bar advances on every model call,
        in proportion to the real cost (ComfyUI's bar is scaled to the schedule length); the core's
        own per-level callbacks are then not needed and ``None`` is returned for them.
        """
        if callback is None:
            return None
        last = len(self.sigmas) - 2

        def emit(d: dict, i: int):
            s = d["sigma"]
            callback({"x": self.from_ve(d["x"], s), "i": min(max(i, 0), last), "sigma": self.from_ve_sigma(s),
                      "sigma_hat": self.from_ve_sigma(s), "denoised": d["denoised"]})

        if expected:
            steps = last + 1
            self._progress = lambda d: emit(d, -(-self.evaluations * steps // expected) - 1)
            return None
        return lambda d: emit(d, int(d["i"]))


def make_ksampler(core: Callable, name: str, expected: Callable[..., int] | None = None,
                  **options) -> comfy.samplers.KSAMPLER:
    """A ComfyUI SAMPLER running a VE core sampler ``core(view, x_ve, sigmas_ve, callback, **options)``.

    ``expected(levels, **options)`` gives the method's model evaluations for a schedule of ``levels``
    steps; with it the progress bar counts every evaluation.
    """

    @torch.no_grad()
    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, **opts):
        view = VEView(model, x, sigmas, extra_args)
        x_ve = view.to_ve(x, sigmas[0])
        total = expected(len(sigmas) - 1, **opts) if expected is not None else None
        out_ve = core(view, x_ve, view.ve_sigmas(), view.callback(callback, total), **opts)
        return view.from_ve(out_ve, view.to_ve_sigma(sigmas[-1]))

    sample.__name__ = f"sample_priorpaint_{name}"
    return comfy.samplers.KSAMPLER(sample, extra_options=dict(options))
