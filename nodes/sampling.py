"""Glue between ComfyUI's sampler API and the pure-torch samplers in ``samplers/``.

A ComfyUI sampler function (``KSAMPLER``) receives the guider-wrapped model in *sampler space*
(EPS/V: ``x = x0 + σε``; flow/CONST: ``x = (1 − s)x0 + sε``). :class:`VEView` presents it to the core
in VE coordinates, exactly:

* ``σ_VE = s/(1 − s)`` and ``x_VE = x/(1 − s)`` for flow models, identity otherwise;
* ``denoise(x_VE, σ_VE)`` calls the model with the built-in inpaint blend switched off
  (``denoise_mask=None``), because the core re-imposes the known region itself;
* the mask honours ``denoise_mask_function`` (Differential Diffusion) at every σ;
* noise comes from named streams of ``extra_args["seed"]`` (``samplers/noise.py``: reproducible runs,
  every seed ComfyUI accepts);
* every model call checks ComfyUI's interrupt flag;
* gradients (DPS, VIPaint) follow docs/architecture.md (Gradients): ``inference_mode(False)``, clones,
  ``torch.autograd.grad``, detached results.
"""
from __future__ import annotations

import contextlib

from typing import Callable

import torch

import comfy.model_management
import comfy.model_sampling
import comfy.samplers

from ..samplers import noise as rng
from ..samplers.ve import flow_sigma, flow_to_ve, flow_to_ve_sigma, ve_to_flow, ve_to_flow_sigma


def make_weights_autograd_safe(module: torch.nn.Module) -> None:
    """Replace inference-mode parameters/buffers by ordinary copies of the same values.

    Weights loaded while ComfyUI executes a prompt are inference tensors, which autograd cannot save
    ("de-inference once", docs/architecture.md). Values are identical, so the BaseModel shared
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


def is_flow(model_sampling) -> bool:
    """Rectified-flow (``CONST``) model sampling: ``x = (1 − s)·x0 + s·ε``."""
    return isinstance(model_sampling, comfy.model_sampling.CONST)


def signal(flow: bool, s: float) -> tuple[float, float]:
    """``(c, σ_VE)`` of a sampler level ``s``: a point there is ``x = c·(x0 + σ_VE·ε)``."""
    if not flow:
        return 1.0, float(s)
    s = float(s)
    return (1.0 - s, float("inf")) if s >= 1.0 else (1.0 - s, flow_to_ve_sigma(s))


def mask_at(model, sigmas, mask0: torch.Tensor | None, mask_fn, sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The hole mask (1 = regenerate) at sampler level ``sigma`` (a [B] tensor), after
    ``denoise_mask_function`` (Differential Diffusion) when the model has one."""
    if mask0 is None:
        return torch.ones_like(like)
    if mask_fn is None:
        return mask0
    return mask_fn(sigma, mask0, extra_options={"model": model.inner_model, "sigmas": sigmas})


def known_at(model, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The known image at sampler level ``sigma`` ([B]) the model's own way (``scale_latent_inpaint``),
    in sampler coordinates."""
    return model.inner_model.inner_model.scale_latent_inpaint(sigma=sigma, noise=noise, latent_image=model.latent_image)


@contextlib.contextmanager
def differentiable_forward():
    """A forward pass whose graph can be back-propagated through every model family.

    ComfyUI ≥ 0.14 runs some kernels (the DiT families' rotary embedding, through ``comfy_kitchen``)
    without an autograd formula unless ``comfy.model_management.in_training`` is set -- the switch its
    own training node (``comfy_extras/nodes_train.py``) sets around its loop. It is set here the same
    way, for the forward call only, and restored after. Older ComfyUI has no switch and needs none
    before 0.8; 0.8–0.13 fail in the backward pass, which :func:`autograd_unsupported` turns into a
    clear error."""
    mm = comfy.model_management
    if not hasattr(mm, "in_training"):
        yield
        return
    before = mm.in_training
    mm.in_training = True
    try:
        yield
    finally:
        mm.in_training = before


def autograd_unsupported(err: BaseException, node: str) -> ValueError | None:
    """The clear error for a model whose forward pass this ComfyUI cannot differentiate, else None."""
    if not isinstance(err, RuntimeError) or "no autograd formula" not in str(err):
        return None
    try:
        from comfyui_version import __version__ as version
    except Exception:
        version = "this version"
    return ValueError(f"PriorPaint {node}: input 'model': ComfyUI {version} runs part of this model (its rotary "
                      "embedding, through comfy_kitchen) without gradients, which this node needs; use ComfyUI "
                      "≥ 0.14, where the pack switches it to plain torch, or another model family "
                      f"({str(err)[:120]})")


class VEView:
    """The model, mask, known image and noise of one ``KSAMPLER`` call, in VE coordinates."""

    def __init__(self, model, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict, stream: str = "ve"):
        self.model = model
        self.ms = model.inner_model.inner_model.model_sampling
        self.flow = is_flow(self.ms)
        self.sigmas = sigmas
        self.extra = dict(extra_args or {})
        self.mask0 = self.extra.get("denoise_mask")
        self.extra["denoise_mask"] = None  # the core does the known-region blending
        self.mask_fn = self.extra.get("model_options", {}).get("denoise_mask_function")
        self.y = model.latent_image if getattr(model, "latent_image", None) is not None else torch.zeros_like(x)
        self.s_in = x.new_ones([x.shape[0]])
        self.generator = rng.generator(int(self.extra.get("seed") or 0), stream)
        self.shape, self.dtype, self.device = x.shape, x.dtype, x.device
        self.evaluations = 0
        self._progress = None  # set by callback() when progress should count every model call
        self._diff_extra = None  # the cloned extra args once prepare_autograd() has run

    # -- coordinates -------------------------------------------------------------------------
    def sampler_sigma(self, s) -> float:
        return flow_sigma(float(s)) if self.flow else float(s)

    def to_ve_sigma(self, s) -> float:
        return flow_to_ve_sigma(float(s)) if self.flow else float(s)

    def from_ve_sigma(self, s_ve: float) -> float:
        return ve_to_flow_sigma(s_ve) if self.flow else s_ve

    def ve_sigmas(self) -> list[float]:
        return [self.to_ve_sigma(s) for s in self.sigmas]

    def to_ve(self, x: torch.Tensor, s) -> torch.Tensor:
        return flow_to_ve(x, float(s)) if self.flow else x

    def from_ve(self, x_ve: torch.Tensor, s_ve: float) -> torch.Tensor:
        return ve_to_flow(x_ve, self.from_ve_sigma(s_ve)) if self.flow else x_ve

    # -- model -------------------------------------------------------------------------------
    def mask(self, s_ve: float) -> torch.Tensor:
        """The hole mask (1 = regenerate) at this σ, after ``denoise_mask_function`` if one is set."""
        s = torch.full((self.shape[0],), self.from_ve_sigma(s_ve), device=self.device)
        return mask_at(self.model, self.sigmas, self.mask0, self.mask_fn, s,
                       torch.ones(self.shape, dtype=self.dtype, device=self.device))

    def known_at(self, s_ve: float, noise: torch.Tensor) -> torch.Tensor:
        """The known image noised to σ the model's own way (``BaseModel.scale_latent_inpaint``, i.e.
        ``model_sampling.noise_scaling`` for ordinary models), returned in VE coordinates."""
        s = self.from_ve_sigma(s_ve)
        sig = torch.full((self.shape[0],), s, dtype=torch.float32, device=self.device)
        return self.to_ve(known_at(self.model, sig, noise), s)

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
        that autograd may save them (docs/architecture.md)."""
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
        with torch.autograd.graph.saved_tensors_hooks(_pack_copy, _unpack), differentiable_forward():
            x0 = self.model(self.from_ve(x_ve, s_ve), s * self.s_in.clone(), **self._diff_extra)
        self._count(x_ve.detach(), x0.detach(), s_ve)
        return x0

    def _count(self, x_ve, x0, s_ve) -> None:
        self.evaluations += 1
        if self._progress is not None:
            self._progress({"x": x_ve, "denoised": x0, "sigma": s_ve})

    def noise(self, sigma=None, sigma_next=None) -> torch.Tensor:
        """A fresh N(0, I) draw of this run's stream (ComfyUI's ``noise_sampler(σ, σ')`` convention)."""
        return rng.randn(self.shape, self.generator, dtype=self.dtype, device=self.device)

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


# ---------------------------------------------------------------------------------------------
# The one KSAMPLER factory
# ---------------------------------------------------------------------------------------------
SAMPLER_FUNCTIONS: dict[str, Callable] = {}
"""Every sampler function the pack builds, by name (filled by :func:`make_ksampler`)."""


def finish_known(model, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict) -> torch.Tensor:
    """The known region a run returns: the known image at the last level ``σ_end`` with the run's
    initial noise (``model.noise``), as ComfyUI's core inpainting leaves it (``y`` at ``σ_end = 0``;
    at ``σ_end > 0`` a latent at that noise level, so split schedules and chains continue from it)."""
    mask0 = (extra_args or {}).get("denoise_mask")
    if mask0 is None or getattr(model, "latent_image", None) is None:
        return x
    mask_fn = (extra_args.get("model_options") or {}).get("denoise_mask_function")
    sig = sigmas[-1].reshape(1).expand(x.shape[0]).to(x.device)
    m = mask_at(model, sigmas, mask0, mask_fn, sig, x)
    noise = model.noise if getattr(model, "noise", None) is not None else torch.zeros_like(x)
    return m * x + (1.0 - m) * known_at(model, sig, noise.to(x))


NODE_OF = {"repaint": "RePaint+ Sampler", "repaint_plus": "RePaint+ Sampler", "harmonized": "Harmonized Sampler",
           "vipaint": "VIPaint", "dps": "DPS sampler"}  # the node a SAMPLER came from, for messages


def check_noise_mask(mask: torch.Tensor | None, node: str) -> None:
    """A noise mask with NaN/inf or values outside [0, 1] gets a clear error before any model call
    (ComfyUI passes it through unchecked; the result would be NaN or a silently clamped blend)."""
    if mask is None:
        return
    bad = not bool(torch.isfinite(mask).all())
    if bad or float(mask.min()) < 0 or float(mask.max()) > 1:
        what = "NaN or Inf values" if bad else f"values in [{float(mask.min()):.4g}, {float(mask.max()):.4g}]"
        raise ValueError(f"PriorPaint {node}: input 'latent_image': its noise_mask has {what}; expected a "
                         "mask in [0, 1] (1 = inpaint), e.g. from SetLatentNoiseMask or VAE Encode (for Inpainting)")


def make_ksampler(fn: Callable, name: str, **options) -> comfy.samplers.KSAMPLER:
    """The SAMPLER of one pack method: ``fn(model, x, sigmas, extra_args, callback, disable, **options)``
    is a k-diffusion sampler function (``model`` is ComfyUI's ``KSamplerX0Inpaint``); the factory adds
    what every method shares: one name space (``sample_priorpaint_<name>``, listed in
    :data:`SAMPLER_FUNCTIONS`), the known region at ``σ_end`` (:func:`finish_known`), ``no_grad``, and the
    checks every run needs before its first model call (the noise mask's values; a latent the model
    takes, :func:`nodes.validate.check_latent`). Errors name ``options["node"]`` when given (the node the
    user placed, e.g. the Inpaint KSampler around this SAMPLER), else the node the SAMPLER came from."""
    from .validate import check_latent

    @torch.no_grad()
    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, **opts):
        extra_args = dict(extra_args or {})
        node = opts.get("node") or NODE_OF.get(name, name)
        check_noise_mask(extra_args.get("denoise_mask"), node)
        check_latent(model.inner_model.inner_model, x, node)
        # a copy: some samplers write into the schedule they are given (uni_pc sets its last σ to 1e-3)
        out = fn(model, x, sigmas.clone(), extra_args=extra_args, callback=callback, disable=disable, **opts)
        return finish_known(model, out, sigmas, extra_args)

    sample.__name__ = f"sample_priorpaint_{name}"
    SAMPLER_FUNCTIONS[name] = fn
    return comfy.samplers.KSAMPLER(sample, extra_options=dict(options))


def ve_core(core: Callable, expected: Callable[..., int] | None = None, stream: str = "ve") -> Callable:
    """A k-diffusion sampler function running a VE core ``core(view, x_ve, sigmas_ve, callback, **options)``.

    ``expected(levels, **options)`` gives the method's model evaluations for a schedule of ``levels``
    steps; with it the progress bar counts every evaluation.
    """

    def fn(model, x, sigmas, extra_args=None, callback=None, disable=None, **opts):
        view = VEView(model, x, sigmas, extra_args, stream)
        x_ve = view.to_ve(x, sigmas[0])
        total = expected(len(sigmas) - 1, **opts) if expected is not None else None
        out_ve = core(view, x_ve, view.ve_sigmas(), view.callback(callback, total), **opts)
        return view.from_ve(out_ve, view.to_ve_sigma(sigmas[-1]))

    fn.__name__ = getattr(core, "__name__", "ve_core")
    return fn


class TransformedModel:
    """Stands in for ComfyUI's ``KSamplerX0Inpaint`` inside one run of a base sampler: each call
    ``model(x, σ, **extra_args)`` goes to ``transform(self, x, σ)``, which may call :meth:`denoise`
    (the guider with the built-in inpaint blend switched off) any number of times. Every evaluation
    passes through the guider, so CFG, post-CFG hooks (cfg_pp samplers) and the harness's counters see
    them all; ``inner_model``, ``latent_image``, ``noise`` and ``sigmas`` read through to the original."""

    def __init__(self, model, sigmas: torch.Tensor, extra_args: dict, transform: Callable):
        self._model = model
        self._run_sigmas = getattr(model, "sigmas", None)
        self._run_sigmas = sigmas if self._run_sigmas is None else self._run_sigmas
        self.mask0 = extra_args.get("denoise_mask")
        self.mask_fn = (extra_args.get("model_options") or {}).get("denoise_mask_function")
        self.flow = is_flow(model.inner_model.inner_model.model_sampling)
        self._transform = transform
        self._kw: dict = {}

    def __getattr__(self, name):
        return getattr(self._model, name)

    def schedule(self) -> list[float]:
        """The schedule of the whole sampling run (a segment's sampler still sees the run's)."""
        return [float(v) for v in self._run_sigmas]

    def signal(self, s: float) -> tuple[float, float]:
        return signal(self.flow, s)

    def mask(self, sigma: torch.Tensor) -> torch.Tensor:
        return mask_at(self._model, self._run_sigmas, self.mask0, self.mask_fn, sigma, self._model.latent_image)

    def known_at(self, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return known_at(self._model, sigma, noise)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        comfy.model_management.throw_exception_if_processing_interrupted()
        return self._model(x, sigma, **dict(self._kw, denoise_mask=None))

    def __call__(self, x, sigma, **kwargs):
        self._kw = kwargs
        return self._transform(self, x, sigma)


# ---------------------------------------------------------------------------------------------
# DPS, the gradient baseline (bench) and VIPaint's refinement stage
# ---------------------------------------------------------------------------------------------
def _dps_core(view: VEView, x, sigmas, callback, scale=1.0, eta=1.0):
    from ..samplers.dps import sample_dps

    return sample_dps(view.denoise_grad, x, sigmas, view.y, view.mask, view.noise, scale, eta, callback)


def dps_sampler(scale: float = 1.0, eta: float = 1.0) -> comfy.samplers.KSAMPLER:
    """DPS (Chung et al. 2023) as a SAMPLER: one gradient through the denoiser per step."""
    return make_ksampler(ve_core(_dps_core, stream="dps/noise"), "dps", scale=scale, eta=eta)
