"""Per-item quality does not depend on batch size (issue 19, item 5): the same number of samples drawn as one
batch or one item per call reach the same distance to the exact posterior (sliced W2 within sampling error),
and a batch of copies gives each item its own noise (no two items equal). LanPaint's results degrade when
samples share a call (docs/benchmarks.md); PriorPaint's samplers act elementwise per item."""
import pytest
import torch

import comfy.sample
import comfy.samplers

from priorpaint.nodes.isdiff import harmonized_sampler
from priorpaint.nodes.repaint import repaint_sampler
from priorpaint.samplers.metrics import sliced_wasserstein2
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_gaussian_mixture

SHAPE = (2, 4, 4)
N = 96

with torch.inference_mode(False):
    PRIOR = make_gaussian_mixture(shape=SHAPE, components=3, rank=3, seed=0)


def draw(model, sampler, y, mask, seed):
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 10)
    return comfy.sample.sample_custom(model, comfy.sample.prepare_noise(y, seed), 1.0, sampler, sigmas, cond(), cond(),
                                      y, noise_mask=mask, disable_pbar=True, seed=seed)


@pytest.mark.parametrize("prediction", ["eps", "flow"])
@pytest.mark.parametrize("method", ["repaint_plus_b", "harmonized"])
def test_quality_alone_and_in_a_batch(prediction, method):
    model = exact_prior_model(PRIOR, prediction)
    sampler = (repaint_sampler(mode="repaint_plus_b", resamples=1) if method == "repaint_plus_b" else
               harmonized_sampler(checkpoint=0.5, attempts=2, delta=1, threshold=0.0))
    y1 = PRIOR.sample(1, torch.Generator().manual_seed(1)).float().reshape(1, *SHAPE)
    mask = torch.zeros(1, 1, *SHAPE[1:])
    mask[..., :, 2:] = 1
    batch = draw(model, sampler, y1.expand(N, -1, -1, -1).contiguous(), mask, seed=0)
    alone = torch.cat([draw(model, sampler, y1, mask, seed=100 + i) for i in range(N)])
    assert len({tuple(r) for r in batch.reshape(N, -1).tolist()}) == N  # each item its own noise
    known = (1 - mask).expand(1, *SHAPE).reshape(-1).double()
    post = PRIOR.posterior(y1.reshape(-1).double(), known)
    exact = post.sample(N, torch.Generator().manual_seed(5))
    floor = sliced_wasserstein2(post.sample(N, torch.Generator().manual_seed(6)), exact,
                                generator=torch.Generator().manual_seed(7))
    sw_batch = sliced_wasserstein2(batch.reshape(N, -1).double(), exact, generator=torch.Generator().manual_seed(7))
    sw_alone = sliced_wasserstein2(alone.reshape(N, -1).double(), exact, generator=torch.Generator().manual_seed(7))
    # both are noisy estimates with N samples: they agree to within the floor's own size
    assert abs(sw_batch - sw_alone) <= max(floor, 0.25 * max(sw_batch, sw_alone)), (sw_batch, sw_alone, floor)
