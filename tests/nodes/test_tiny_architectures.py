"""Real ComfyUI architectures at tiny random configurations run latent inpainting end to end on CPU:
VAE encode -> sample with a noise mask (ComfyUI's own path) -> VAE decode."""
import pytest
import torch

import comfy.model_sampling
import comfy.sample
import comfy.utils

from priorpaint.support.comfy_models import FAMILIES, tiny_model

EXPECTED = {"sd15": (comfy.model_sampling.EPS, 4), "sd2v": (comfy.model_sampling.V_PREDICTION, 4),
            "sdxl": (comfy.model_sampling.EPS, 4),
            "flux": (comfy.model_sampling.CONST, 16), "wan": (comfy.model_sampling.CONST, 16)}


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_family_inpaints_end_to_end(family):
    b = tiny_model(family, seed=0)
    ms = b.model.get_model_object("model_sampling")
    kind, channels = EXPECTED[family]
    assert isinstance(ms, kind) and b.latent_channels == channels
    video = family == "wan"  # 5 frames -> 2 latent frames (4x in time), [B, C, T, H, W]
    image = torch.rand(5 if video else 1, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    latent = b.vae.encode(image)
    assert latent.shape == ((1, channels, 2, 8, 8) if video else (1, channels, 8, 8))
    mask = torch.zeros(1, 1, 5, 64, 64) if video else torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 24:56] = 1
    out = comfy.sample.sample(b.model, comfy.sample.prepare_noise(latent, 0), 4, 2.0, "euler", "simple", b.positive,
                              b.negative, latent, noise_mask=mask, disable_pbar=True, seed=0)
    keep = comfy.utils.reshape_mask(mask, out.shape) == 0
    assert torch.isfinite(out).all()
    assert (out - latent)[keep].abs().max() < 1e-5
    assert (out - latent)[~keep].abs().max() > 1e-4
    pixels = b.vae.decode(out)
    assert pixels.shape == ((1, 5, 64, 64, 3) if video else (1, 64, 64, 3)) and torch.isfinite(pixels).all()


def test_tiny_models_are_seeded():
    a, b = tiny_model("sd15", seed=3), tiny_model("sd15", seed=3)
    sa, sb = a.model.model.state_dict(), b.model.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
