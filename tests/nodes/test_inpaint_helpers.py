"""Inpaint Encode, Inpaint Crop and Inpaint Stitch: a 2048×1536 photo with a small hole is inpainted at the
chosen resolution and stitched back with no change outside the hole's feather band; batches with one
mask or one per item; the encoder grows/feathers/fills as asked; bad inputs get named errors."""
import math

import pytest
import torch

from priorpaint.nodes.inpaint import InpaintCrop, InpaintEncode, InpaintStitch
from priorpaint.nodes.ksampler import PriorPaintKSampler
from priorpaint.nodes.models import LoadDemoModel
from priorpaint.samplers.masks import dilate


def photo(b=1, h=1536, w=2048, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([xx, yy, 0.5 * (xx + yy)], -1)
    return (0.8 * base + 0.2 * torch.rand(b, h, w, 3, generator=g)).clamp(0, 1)


def hole(b=1, h=1536, w=2048, boxes=((700, 900, 60, 80),)):
    m = torch.zeros(b, h, w)
    for i in range(b):
        t, l, hh, ww = boxes[i % len(boxes)]
        m[i, t:t + hh, l:l + ww] = 1
    return m


def band(mask, feather):
    """Where the stitch may change pixels: the hole dilated by the feather's reach."""
    return dilate(mask[:, None].float(), int(math.ceil(feather)))[:, 0] > 0


@pytest.mark.parametrize("per_item", [False, True])
def test_crop_and_stitch_a_large_photo_changes_nothing_outside_the_feather_band(per_item):
    img = photo(b=2)
    mask = hole(b=2, boxes=((700, 900, 60, 80), (300, 1500, 40, 40))) if per_item else hole(b=1)
    crop, cmask, info = InpaintCrop.execute(img, mask, context=0.5, margin=32, megapixels=0.25, multiple=8).result
    assert crop.shape[0] == 2 and crop.shape[1] % 8 == 0 and crop.shape[2] % 8 == 0
    assert 0.2e6 < crop.shape[1] * crop.shape[2] < 0.3e6
    assert cmask.shape == crop.shape[:3] if per_item else cmask.shape[1:] == crop.shape[1:3]
    hole_c = (cmask if cmask.shape[0] == 2 else cmask.expand(2, -1, -1))[..., None]
    fake = hole_c * (1.0 - crop) + (1 - hole_c) * crop  # any "inpainting" of the crop: the hole changed
    out = InpaintStitch.execute(info, fake, feather=8.0, colour_match="none").result[0]
    assert out.shape == img.shape
    outside = ~band(mask.expand(2, -1, -1), 8.0)
    assert torch.equal(out[outside], img[outside]), "pixels outside the feather band changed"
    inside = mask.expand(2, -1, -1) > 0.5
    inverted = (out[inside] - (1 - img[inside])).abs().mean()
    assert inverted < 0.05, f"the stitched hole is not the inpainted crop (mean error {inverted:.3f})"
    assert torch.equal(img, photo(b=2)), "the input image was modified"


def test_crop_and_stitch_with_a_real_inpainting_run():
    """The demo model inpaints the crop through the Inpaint KSampler; the stitched result keeps the rest."""
    model, vae, cond = LoadDemoModel.execute("priorpaint-unet", "eps").result[:3]
    img, mask = photo(h=768, w=1024), hole(h=768, w=1024, boxes=((300, 400, 40, 50),))
    crop, cmask, info = InpaintCrop.execute(img, mask, context=0.5, margin=16, megapixels=0.02, multiple=8).result
    latent = InpaintEncode.execute(crop, cmask, vae, grow=0, feather=0.0, fill="neutral grey").result[0]
    sampled = PriorPaintKSampler.execute(model, 1, 6, 1.0, "euler", "karras", cond, cond, latent, 1.0,
                                         "balanced").result[0]
    out = InpaintStitch.execute(info, vae.decode(sampled["samples"]), feather=4.0,
                                colour_match="lab_mean_std").result[0]
    outside = ~band(mask, 4.0)
    assert torch.equal(out[outside], img[outside])
    assert (out[mask > 0.5] - img[mask > 0.5]).abs().mean() > 1e-3  # the hole was filled with something new
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_crop_takes_a_target_size_in_pixels_as_well_as_megapixels():
    """target_size = the side of a square of the crop's area (512 for SD1.5, 1024 for SDXL): the same crop as
    megapixels = target_size² / 1e6; 0 leaves megapixels in charge; a size it cannot keep is named."""
    img, mask = photo(h=768, w=1024), hole(h=768, w=1024, boxes=((300, 400, 40, 80),))
    by_px = InpaintCrop.execute(img, mask, 0.5, 32, 1.0, 8, target_size=512).result
    by_mp = InpaintCrop.execute(img, mask, 0.5, 32, 512 * 512 / 1e6, 8).result
    assert torch.equal(by_px[0], by_mp[0]) and torch.equal(by_px[1], by_mp[1])
    assert abs(by_px[0].shape[1] * by_px[0].shape[2] - 512 * 512) < 0.05 * 512 * 512
    assert torch.equal(InpaintCrop.execute(img, mask, 0.5, 32, 0.05, 8, target_size=0).result[0],
                       InpaintCrop.execute(img, mask, 0.5, 32, 0.05, 8).result[0])
    with pytest.raises(ValueError, match="Inpaint Crop: input 'target_size'"):
        InpaintCrop.execute(img, mask, 0.5, 32, 1.0, 8, target_size=4)


def test_an_empty_mask_passes_the_image_through():
    img = photo(b=1, h=64, w=96)
    crop, _, info = InpaintCrop.execute(img, torch.zeros(1, 64, 96), 0.5, 8, 1.0, 16).result
    assert torch.equal(crop, img)
    assert torch.equal(InpaintStitch.execute(info, crop, 4.0, "lab_mean_std").result[0], img)


def test_stitch_refuses_a_feather_wider_than_the_context():
    img, mask = photo(h=256, w=256), hole(h=256, w=256, boxes=((100, 100, 20, 20),))
    crop, _, info = InpaintCrop.execute(img, mask, context=0.0, margin=6, megapixels=0.01, multiple=8).result
    with pytest.raises(ValueError, match=r"PriorPaint Inpaint Stitch: input 'feather'"):
        InpaintStitch.execute(info, crop, feather=12.0, colour_match="none")
    with pytest.raises(ValueError, match=r"PriorPaint Inpaint Stitch: input 'stitch'"):
        InpaintStitch.execute("not a stitch", crop, feather=1.0, colour_match="none")


def test_encode_crops_to_the_vae_multiple_like_vae_encode():
    """A tiny SD VAE (8× compression): a 70×101 image is cut centrally to 64×96, mask alike."""
    from priorpaint.support.comfy_models import tiny_vae

    img, mask = photo(b=1, h=70, w=101), hole(b=1, h=70, w=101, boxes=((30, 40, 10, 10),))
    latent, m = InpaintEncode.execute(img, mask, tiny_vae(4), 0, 0.0, "neutral grey").result
    assert latent["samples"].shape[-2:] == (8, 12) and m.shape == (1, 64, 96)
    assert torch.equal(m, mask[:, 3:67, 2:98])


def test_encode_grows_feathers_and_fills():
    vae = LoadDemoModel.execute("priorpaint-unet", "eps").result[1]  # a pixel-space VAE: no crop
    img = photo(b=2, h=64, w=96)
    mask = hole(b=1, h=64, w=96, boxes=((27, 38, 10, 10),))
    before = img.clone()
    latent, m = InpaintEncode.execute(img, mask, vae, grow=3, feather=2.0, fill="neutral grey").result
    assert torch.equal(img, before)
    assert m.shape == (2, 64, 96) and latent["noise_mask"].shape == (2, 1, 64, 96)
    top, left = 0, 0
    grown = dilate(mask[:, None, top:top + 64, left:left + 96], 3)[:, 0]
    assert torch.equal(m[0][grown[0] > 0], torch.ones_like(m[0][grown[0] > 0]))  # grown region fully masked
    soft = (m[0] > 0) & (m[0] < 1)
    assert soft.any(), "feathering left no soft edge"
    decoded = vae.decode(latent["samples"])
    assert (decoded[0][m[0] > 0.5] - 0.5).abs().max() < 0.02  # hole emptied to neutral grey
    kept = InpaintEncode.execute(img, mask, vae, 0, 0.0, "keep").result[0]
    assert (vae.decode(kept["samples"]) - img[:, top:top + 64, left:left + 96]).abs().max() < 0.02
    with pytest.raises(ValueError, match=r"PriorPaint Inpaint Encode: input 'fill'"):
        InpaintEncode.execute(img, mask, vae, 0, 0.0, "paint it")
