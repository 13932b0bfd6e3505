"""Metric functions on cases with known answers."""
import math

import pytest
import torch

from priorpaint.samplers import metrics as M


def g(seed):
    return torch.Generator().manual_seed(seed)


def test_sliced_w2_same_distribution_is_near_zero_and_shift_gives_the_shift():
    a = torch.randn(4000, 6, generator=g(0), dtype=torch.float64)
    b = torch.randn(4000, 6, generator=g(1), dtype=torch.float64)
    floor = M.sliced_wasserstein2(a, b, generator=g(2))
    assert floor < 0.05
    shift = torch.zeros(6, dtype=torch.float64)
    shift[0] = 3.0
    # a shift s along e0 projects to θ0·s; E[θ0²] = 1/d, so SW2 = s/sqrt(d)
    sw = M.sliced_wasserstein2(a, a + shift, projections=4096, generator=g(3))
    assert sw == pytest.approx(3.0 / math.sqrt(6), rel=0.05)
    with pytest.raises(ValueError):
        M.sliced_wasserstein2(a, b[:10])


def test_tv_and_component_histogram():
    assert M.tv_distance(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])) == pytest.approx(0.5)
    h = M.component_histogram(torch.tensor([0, 0, 1, 2]), 4)
    assert torch.allclose(h, torch.tensor([0.5, 0.25, 0.25, 0.0], dtype=torch.float64))


def test_mean_error_and_known_deviation():
    s = torch.ones(10, 4)
    assert M.mean_error(s, torch.zeros(4)) == pytest.approx(1.0)
    known = torch.tensor([1, 0, 1, 0])
    y = torch.tensor([1.0, 5.0, 1.5, 5.0])
    assert M.known_max_deviation(s, y, known) == pytest.approx(0.5)


def test_masked_psnr_and_ssim():
    gt = torch.rand(2, 3, 32, 32, generator=g(0))
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    x = gt.clone()
    x[..., 8:24, 8:24] += 0.1  # error only in the hole, of RMS 0.1
    assert torch.allclose(M.masked_psnr(x, gt, mask), torch.full((2,), 20.0, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(M.masked_ssim(gt, gt, mask), torch.ones(2, dtype=torch.float64))
    noisy = gt + 0.3 * torch.randn(gt.shape, generator=g(1))
    # uniform gt (var 1/12) plus N(0, 0.3²): SSIM ≈ 2·cov/(var_x + var_y) = 2/12 / (2/12 + 0.09) ≈ 0.65
    assert ((M.masked_ssim(noisy, gt, mask) - 0.65).abs() < 0.05).all()


def test_harmony_kl_orders_matching_and_clashing_fills():
    x = 0.4 + 0.1 * torch.rand(1, 3, 32, 32, generator=g(0))
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    clash = x.clone()
    clash[..., 8:24, 8:24] = 0.9
    good, bad = float(M.harmony_kl(x, mask)), float(M.harmony_kl(clash, mask))
    assert good < 0.05 < 1.0 < bad


def test_seam_score_is_one_without_a_seam_and_large_with_one():
    y, x = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    smooth = (0.5 + 0.2 * torch.sin(6 * x) * torch.cos(5 * y)).expand(1, 3, 48, 48).clone()
    mask = torch.zeros(1, 1, 48, 48)
    mask[..., 16:32, 16:32] = 1
    base = float(M.seam_score(smooth, mask))
    seamed = smooth.clone()
    seamed[..., 16:32, 16:32] += 0.2
    assert 0.7 < base < 1.4
    assert float(M.seam_score(seamed, mask)) > 3 * base


def test_diversity():
    same = torch.zeros(4, 3, 8, 8)
    assert M.diversity(same) == 0.0
    two = torch.stack([torch.zeros(3, 8, 8), torch.ones(3, 8, 8)])
    assert M.diversity(two) == pytest.approx(1.0)
