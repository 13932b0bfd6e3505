"""Boundary conventions (samplers.masks) and colour-safe compositing (samplers.composite)."""
import pytest
import torch

from priorpaint.samplers import composite as C
from priorpaint.samplers.masks import (InputError, bchw_to_image, broadcast_batch, check_mask_values, image_to_bchw,
                                       mask_for, mask_to_b1hw, resize_mask)


def test_layout_round_trip():
    img = torch.rand(2, 5, 7, 3)
    x = image_to_bchw(img)
    assert x.shape == (2, 3, 5, 7)
    assert torch.equal(bchw_to_image(x), img)
    assert mask_to_b1hw(torch.rand(5, 7)).shape == (1, 1, 5, 7)
    assert mask_to_b1hw(torch.rand(3, 5, 7)).shape == (3, 1, 5, 7)
    with pytest.raises(InputError, match="input 'mask'.*MASK"):
        mask_to_b1hw(torch.rand(2, 3, 5, 7))


def test_resize_keeps_soft_values_and_is_bilinear():
    m = torch.zeros(1, 1, 16, 16)
    m[..., 4:12, 4:12] = 1.0
    small = resize_mask(m, (2, 2))
    assert small.shape == (1, 1, 2, 2)
    big = resize_mask(torch.tensor([[[[0.0, 1.0]]]]), (1, 4))
    torch.testing.assert_close(big, torch.tensor([[[[0.0, 0.25, 0.75, 1.0]]]]))  # soft values survive


def test_batch_broadcast_rules_name_the_input():
    assert broadcast_batch(torch.rand(1, 1, 4, 4), 3, "mask").shape[0] == 3
    assert broadcast_batch(torch.rand(3, 1, 4, 4), 3, "mask").shape[0] == 3
    with pytest.raises(InputError, match="input 'mask': has batch size 2 but the batch has 3"):
        broadcast_batch(torch.rand(2, 1, 4, 4), 3, "mask")


def test_mask_values_are_checked_not_clamped():
    with pytest.raises(InputError, match=r"input 'mask': has values in \[-0.5"):
        check_mask_values(torch.tensor([-0.5, 0.5]))
    with pytest.raises(InputError, match="NaN or Inf"):
        check_mask_values(torch.tensor([float("nan")]))
    m = mask_for(torch.full((1, 8, 8), 0.25), torch.zeros(2, 3, 4, 4))
    assert m.shape == (2, 1, 4, 4) and torch.allclose(m, torch.tensor(0.25))


def test_lab_round_trip():
    rgb = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(C.lab_to_rgb(C.rgb_to_lab(rgb)).float(), rgb, atol=1e-5, rtol=0)
    white = C.rgb_to_lab(torch.ones(1, 3, 1, 1))
    assert abs(float(white[0, 0]) - 100.0) < 1e-3 and float(white[0, 1:].abs().max()) < 1e-2


def test_colour_match_removes_a_global_tone_shift_measured_on_the_known_region():
    g = torch.Generator().manual_seed(0)
    original = 0.2 + 0.6 * torch.rand(1, 3, 32, 32, generator=g)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    shifted = (original * 0.8 + torch.tensor([0.1, -0.05, 0.08]).view(1, 3, 1, 1)).clamp(0, 1)
    fixed = C.match_colour_lab(shifted, original, mask)
    known = mask.expand_as(original) == 0
    before = (shifted - original)[known].abs().mean()
    after = (fixed - original)[known].abs().mean()
    assert after < 0.35 * before  # Lab mean/std cannot invert an RGB-affine shift exactly: 0.26 measured


def test_composite_keeps_outside_and_replaces_inside():
    orig, inp = torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    hard = C.composite(orig, inp, mask)
    assert torch.equal(hard, mask.expand_as(hard))
    soft = C.composite(orig, inp, mask, feather_px=3)
    assert torch.equal(soft[..., 4:12, 4:12], inp[..., 4:12, 4:12])  # the hole is fully replaced
    assert 0 < float(soft[0, 0, 4, 2]) < 1  # the transition lies outside the hole
    assert float(soft[0, 0, 0, 15]) == 0.0 and float(soft[0, 0, 8, 0]) == 0.0  # beyond the radius: original pixels untouched
    half = C.composite(orig, inp, torch.full((1, 1, 16, 16), 0.5))
    torch.testing.assert_close(half, torch.full_like(half, 0.5))  # soft masks are blend weights
