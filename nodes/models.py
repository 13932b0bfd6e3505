"""Model loader nodes: the demo models the pack ships, as real ComfyUI MODEL + VAE."""
from __future__ import annotations

import json
import os

import torch
from comfy_api.latest import io

import comfy.sd
import comfy.utils

from ..demomodel import DEMO_MODELS, WEIGHTS_DIR
from ..demomodel.stationary import StationaryGaussianDenoiser
from ..demomodel.unet import build_denoiser
from .common import CATEGORY, schema
from .modelwrap import empty_conditioning, wrap_ve_denoiser


def pixel_space_vae() -> comfy.sd.VAE:
    """ComfyUI's own pixel-space 'VAE' (IMAGE [0,1] ↔ LATENT [-1,1], 3 channels, no down-sampling)."""
    return comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})


def load_demo_denoiser(name: str) -> torch.nn.Module:
    if name not in DEMO_MODELS:
        raise ValueError(f"PriorPaint Load Demo Model: input 'model_name' is {name!r}; expected one of {sorted(DEMO_MODELS)}")
    path = os.path.join(WEIGHTS_DIR, DEMO_MODELS[name][0])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"PriorPaint Load Demo Model: weights for {name!r} are missing at {path}; "
                                f"rebuild them with 'make demo-model' / 'make demo-prior'")
    sd, meta = comfy.utils.load_torch_file(path, safe_load=True, return_metadata=True)  # safetensors only
    fmt = (meta or {}).get("format")
    if fmt == "priorpaint.demo_unet":
        return build_denoiser(sd, json.loads(meta["config"]))
    if fmt == "priorpaint.stationary_gaussian":
        return StationaryGaussianDenoiser.from_state_dict(sd)
    raise ValueError(f"PriorPaint Load Demo Model: {path} has format {fmt!r}; expected a PriorPaint demo model")


class LoadDemoModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintLoadDemoModel",
            search_aliases=['demo model', 'test model', 'pixel model'],
            display_name="Load Demo Model",
            category=f"{CATEGORY}/models",
            description=(
                "Loads a small pixel-space diffusion model that ships with PriorPaint, so every workflow can run "
                "offline on a CPU. Outputs a real MODEL (any ComfyUI sampler accepts it), ComfyUI's pixel-space VAE "
                "(VAEEncode/VAEDecode convert IMAGE <-> LATENT without compression) and an empty CONDITIONING for "
                "the sampler's positive/negative inputs (the model is unconditional)."),
            inputs=[
                io.Combo.Input("model_name", options=list(DEMO_MODELS), default=next(iter(DEMO_MODELS)),
                               tooltip="Which demo model. " + "; ".join(f"{k}: {v[1]}" for k, v in DEMO_MODELS.items())),
                io.Combo.Input("prediction", options=["eps", "v", "flow"], default="eps",
                               tooltip="How the model is presented to ComfyUI: eps (SD1.5-style discrete schedule), "
                                       "v (SD2-style v-prediction) or flow (SD3-style rectified flow, shift 3). The "
                                       "denoiser is the same; this lets you test a workflow on every model family."),
            ],
            outputs=[
                io.Model.Output("model", display_name="model", tooltip="The demo diffusion model."),
                io.Vae.Output("vae", display_name="vae", tooltip="ComfyUI's pixel-space VAE (identity up to the [0,1] <-> [-1,1] rescale)."),
                io.Conditioning.Output("conditioning", display_name="conditioning",
                                       tooltip="Empty conditioning: connect it to both positive and negative."),
            ],
        )

    @classmethod
    def execute(cls, model_name: str, prediction: str = "eps") -> io.NodeOutput:
        settings = {"shift": 3.0, "multiplier": 1000} if prediction == "flow" else {}
        model = wrap_ve_denoiser(load_demo_denoiser(model_name), channels=3, prediction=prediction,
                                 sampling_settings=settings, name="PriorPaintDemo")
        return io.NodeOutput(model, pixel_space_vae(), empty_conditioning())
