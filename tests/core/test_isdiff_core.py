"""IS-Diff core: the GMM seed, the DCE measure and the dynamic selective refinement loop."""
import pytest
import torch

from priorpaint.samplers import dce as D
from priorpaint.samplers import gmm_seed as G
from priorpaint.samplers.harmonized import auto_threshold, dynamic_selective_refinement


def two_colour_image(h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.empty(1, 3, h, w)
    left = torch.tensor([0.8, 0.2, 0.1]).view(3, 1, 1)
    right = torch.tensor([0.1, 0.3, 0.9]).view(3, 1, 1)
    x[0, :, :, : w // 2] = left
    x[0, :, :, w // 2:] = right
    return x + 0.02 * torch.randn(x.shape, generator=g)


def test_gmm_fit_recovers_components_and_fill_keeps_known():
    x = two_colour_image()
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    out, fits = G.gmm_seed(x, mask, components=2, seed=0)
    means = fits[0].means.float()
    want = torch.tensor([[0.8, 0.2, 0.1], [0.1, 0.3, 0.9]])
    d = torch.cdist(means, want)
    assert d.min(1).values.max() < 0.02 and abs(float(fits[0].weights.min()) - 0.5) < 0.05
    assert torch.equal(out[..., mask[0, 0] == 0], x[..., mask[0, 0] == 0])
    hole = out[0][:, mask[0, 0] == 1].T
    nearest = torch.cdist(hole, want).min(1).values
    assert float((nearest < 0.1).float().mean()) > 0.99  # every draw is one of the two colours
    again, _ = G.gmm_seed(x, mask, components=2, seed=0)
    other, _ = G.gmm_seed(x, mask, components=2, seed=1)
    assert torch.equal(out, again) and not torch.equal(out, other)


def test_noise_blend_and_soft_masks():
    x = two_colour_image()
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    noisy, _ = G.gmm_seed(x, mask, components=2, seed=0, noise_blend=1.0)
    hole = noisy[0][:, mask[0, 0] == 1]
    assert abs(float(hole.mean())) < 0.1 and abs(float(hole.std()) - 1) < 0.1
    soft = mask * 0.5
    half, _ = G.gmm_seed(x, soft, components=2, seed=0)
    full, _ = G.gmm_seed(x, mask, components=2, seed=0)
    sel = mask[0, 0] == 1
    torch.testing.assert_close(half[..., sel], 0.5 * x[..., sel] + 0.5 * full[..., sel])  # soft masks blend
    full_mask, fits = G.gmm_seed(x, torch.ones(1, 1, 32, 32), seed=0)  # nothing known: the usual noise start
    assert fits == [None] and abs(float(full_mask.std()) - 1) < 0.1
    with pytest.raises(ValueError, match="no known positions"):
        G.fit_gmm(torch.zeros(0, 3))


def test_known_points_are_drawn_without_replacement_and_capped_by_the_known_set():
    x = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    m = torch.zeros(8, 8)
    m[2:6, 2:6] = 1  # 48 known positions
    g = torch.Generator().manual_seed(0)
    every = G.known_points(x, m, 10_000_000, g)  # a huge max_points takes each known position once
    assert every.shape == (48, 2) and len({tuple(r) for r in every.tolist()}) == 48
    some = G.known_points(x, m, 20, g)
    assert some.shape == (20, 2) and len({tuple(r) for r in some.tolist()}) == 20
    assert all(m.reshape(-1)[int(r[0])] == 0 for r in some.tolist())


def test_fit_is_interruptible_and_chunked(monkeypatch):
    """The EM calls ``check`` between chunks (ComfyUI's interrupt), and a chunked fit equals one pass."""
    x = two_colour_image()
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    calls = []

    class Stop(Exception):
        pass

    def check():
        calls.append(1)
        if len(calls) > 3:
            raise Stop
    with pytest.raises(Stop):
        G.gmm_seed(x, mask, components=2, seed=0, check=check)
    whole = G.fit_known(x, mask, 2, seed=0)[0]
    monkeypatch.setattr(G, "CHUNK", 100)
    chunked = G.fit_known(x, mask, 2, seed=0)[0]
    torch.testing.assert_close(whole.means, chunked.means)
    torch.testing.assert_close(whole.covs, chunked.covs)


def test_video_latents_fit_over_time_and_space():
    """``[B, C, T, H, W]``: positions over all frames fit one mixture per item; known frames are kept."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 3, 8, 8, generator=g) * 0.1 + torch.tensor([1.0, -1.0, 0.5, 0.0]).view(1, 4, 1, 1, 1)
    mask = torch.zeros(2, 1, 3, 8, 8)
    mask[0, :, 1] = 1  # item 0: the middle frame is the hole
    mask[1, :, :, 2:6, 2:6] = 1  # item 1: a box in every frame
    out, fits = G.gmm_seed(x, mask, components=2, seed=0)
    assert out.shape == x.shape and all(f is not None for f in fits)
    keep = mask == 0
    assert torch.equal(out.expand_as(x)[keep.expand_as(x)], x[keep.expand_as(x)])
    hole = out[0, :, 1].reshape(4, -1)
    torch.testing.assert_close(hole.mean(1), torch.tensor([1.0, -1.0, 0.5, 0.0]), atol=0.1, rtol=0)


def test_dce_zero_for_matching_and_large_for_clashing_fills():
    x = two_colour_image(seed=1)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :, 8:24] = 1  # the hole straddles both colours, like the known region
    same = D.dce(x, mask)
    clash = x.clone()
    clash[..., :, 8:24] = 0.5
    bad = D.dce(clash, mask)
    assert float(same["kl"]) < 0.1 < 2.0 < float(bad["kl"])
    assert torch.allclose(bad["dce"] - bad["kl"], same["dce"] - same["kl"], atol=0.05)  # DCE - KL = H(h_k), same known region
    heat = D.heat_map(clash, mask, blur=0)
    assert float(heat[..., 12:20, 12:20].mean()) > 0.5 and float(heat[..., :, :4].max()) == 0.0
    tex = D.dce(x, mask, texture=True)
    assert float(tex["kl"]) >= float(same["kl"])


def test_refinement_loop_restarts_until_threshold_and_keeps_the_best_per_item():
    scores = {0: torch.tensor([0.5, 0.04]), 1: torch.tensor([0.3, 0.2]), 2: torch.tensor([0.4, 0.3])}
    starts, runs = [], []

    def start(n, level):
        starts.append((n, level))
        return torch.full((2, 1), float(n))

    def run(x, a, b, n):
        runs.append((a, b))
        return x, x

    result = dynamic_selective_refinement(start, run, lambda x0: scores[int(x0[0, 0])], levels=10, checkpoint=5,
                                          attempts=3, delta=2, threshold=0.1)
    assert starts == [(0, 0), (1, 2), (2, 4)]
    assert result.best == [1, 0]  # item 0: attempt 2 (0.3); item 1: attempt 1 (0.04)
    assert result.x[:, 0].tolist() == [1.0, 0.0]
    assert runs[-1] == (5, 10)  # finished from the checkpoint
    # an attempt at or below τ for every item stops the loop
    calls = []
    dynamic_selective_refinement(lambda n, l: torch.zeros(1, 1), lambda x, a, b, n: (calls.append(a) or (x, x)),
                                 lambda x0: torch.tensor([0.05]), levels=10, checkpoint=5, attempts=3, threshold=0.1)
    assert calls == [0, 5]
    with pytest.raises(ValueError, match="checkpoint"):
        dynamic_selective_refinement(start, run, lambda x0: 0.0, levels=10, checkpoint=10)


def test_auto_threshold():
    assert auto_threshold(0.001) == 0.02 and auto_threshold(0.1) == pytest.approx(0.15)


def test_torch_em_matches_sklearn_fit_quality():
    g = torch.Generator().manual_seed(0)
    pts = torch.cat([torch.randn(700, 3, generator=g) * 0.05 + torch.tensor([0.2, 0.5, 0.8]),
                     torch.randn(500, 3, generator=g) * 0.1 + torch.tensor([0.7, 0.1, 0.3]),
                     torch.randn(300, 3, generator=g) * 0.03 + torch.tensor([0.5, 0.9, 0.1])])
    held = pts[torch.randperm(1500, generator=g)[:500]]

    def loglik(fit, x):
        comps = torch.distributions.MultivariateNormal(fit.means, covariance_matrix=fit.covs)
        return float(torch.logsumexp(comps.log_prob(x.double()[:, None]) + fit.weights.log(), 1).mean())

    a = G.fit_gmm(pts, 3, 5000, seed=0, backend="torch")
    b = G.fit_gmm(pts, 3, 5000, seed=0, backend="sklearn")
    assert abs(loglik(a, held) - loglik(b, held)) < 0.02 * abs(loglik(b, held))
    assert torch.cdist(a.means.float(), b.means.float()).min(1).values.max() < 0.02
    with pytest.raises(ValueError, match="backend"):
        G.fit_gmm(pts, 3, backend="nope")
