"""The analytic demo model: a genuine Gaussian denoiser (linear, symmetric, gains in [0, 1])."""
import os

import torch
from safetensors.torch import load_file

from priorpaint.demomodel import DEMO_MODELS, WEIGHTS_DIR
from priorpaint.demomodel.stationary import StationaryGaussianDenoiser


def _model():
    return StationaryGaussianDenoiser.from_state_dict(load_file(os.path.join(WEIGHTS_DIR, DEMO_MODELS["stationary-gaussian"][0])))


def test_denoiser_is_a_symmetric_shrinkage_operator():
    m = _model()
    h, w, d = 4, 5, 3 * 4 * 5
    sigma = torch.tensor([0.3])
    mu = m.mu.view(1, 3, 1, 1)
    basis = torch.eye(d).reshape(d, 3, h, w)
    cols = (m(basis + mu, sigma.expand(d)) - mu).reshape(d, d).T.double()
    torch.testing.assert_close(cols, cols.T, atol=2e-5, rtol=0)  # a posterior-mean map of a Gaussian is symmetric
    ev = torch.linalg.eigvalsh(0.5 * (cols + cols.T))
    assert ev.min() > -1e-4 and ev.max() < 1 + 1e-4


def test_limits_in_sigma():
    m = _model()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(m(x, torch.tensor([1e-6, 1e-6])), x, atol=1e-4, rtol=0)
    far = m(x, torch.tensor([1e4, 1e4]))
    torch.testing.assert_close(far, m.mu.view(1, 3, 1, 1).expand_as(far), atol=2e-2, rtol=0)
