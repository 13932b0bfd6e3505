"""Node contracts: schemas validate, ids/categories follow the design card, every input is
documented, registration through ComfyUI's own loader, and the shipped nodes execute."""
import asyncio
import os
import sys

import pytest
import torch

import comfy.sample
import comfy.utils

import harness
from priorpaint.nodes import NODES, PriorPaintExtension
from priorpaint.nodes.image import Composite
from priorpaint.nodes.models import LoadDemoModel
from priorpaint.samplers.masks import resize_mask


def schemas():
    return [n.define_schema() for n in NODES]


def test_schemas_validate_and_follow_the_design_card():
    ids = []
    for s in schemas():
        s.validate()
        assert s.node_id.startswith("PriorPaint"), s.node_id
        assert s.category.startswith("PriorPaint/"), s.category
        assert s.display_name and not s.display_name.startswith("PriorPaint"), s.display_name
        assert s.description and len(s.description) > 40, s.node_id
        for inp in s.inputs:
            assert inp.tooltip, f"{s.node_id}.{inp.id} has no tooltip"
        ids.append(s.node_id)
    assert len(ids) == len(set(ids))


def test_extension_lists_every_node():
    assert asyncio.run(PriorPaintExtension().get_node_list()) == NODES


def test_registration_through_comfyui_loader():
    import nodes as comfy_nodes  # ComfyUI's own nodes.py

    link = os.path.join(harness.COMFY_DIR, "custom_nodes", "PriorPaint")
    ok = asyncio.run(comfy_nodes.load_custom_node(link, module_parent="custom_nodes"))
    assert ok is True
    for s in schemas():
        assert s.node_id in comfy_nodes.NODE_CLASS_MAPPINGS
    assert any(k.startswith("PriorPaint") for k in comfy_nodes.EXTENSION_WEB_DIRS) or comfy_nodes.EXTENSION_WEB_DIRS


def test_mask_resize_matches_comfyui_sampler_rule():
    m = torch.rand(2, 1, 37, 53)
    torch.testing.assert_close(resize_mask(m, (9, 13)), comfy.utils.reshape_mask(m, (2, 1, 9, 13)))


@pytest.mark.parametrize("name", ["priorpaint-unet", "stationary-gaussian"])
@pytest.mark.parametrize("prediction", ["eps", "v", "flow"])
def test_demo_model_inpaints_with_stock_ksampler(name, prediction):
    model, vae, cond = LoadDemoModel.execute(name, prediction).result
    image = torch.rand(1, 32, 48, 3, generator=torch.Generator().manual_seed(0))
    latent = vae.encode(image)
    assert latent.shape == (1, 3, 32, 48)
    mask = torch.zeros(1, 1, 32, 48)
    mask[..., 8:24, 16:40] = 1
    out = comfy.sample.sample(model, comfy.sample.prepare_noise(latent, 0), 10, 1.0, "dpmpp_2m", "karras", cond, cond,
                              latent, noise_mask=mask, disable_pbar=True, seed=0)
    keep = mask.expand_as(out) == 0
    assert (out - latent)[keep].abs().max() < 1e-5 and (out - latent)[~keep].abs().mean() > 1e-2


@pytest.mark.parametrize("name", ["priorpaint-unet", "stationary-gaussian"])
def test_demo_model_is_its_denoiser(name):
    from priorpaint.nodes.models import load_demo_denoiser

    model = LoadDemoModel.execute(name, "eps").result[0]
    den = load_demo_denoiser(name)
    x = torch.randn(1, 3, 16, 16) * 2
    sigma = torch.tensor([2.0])
    got = model.model.apply_model(x, sigma, c_crossattn=torch.zeros(1, 1, 8), transformer_options={"sigmas": sigma})
    torch.testing.assert_close(got, den(x, sigma), atol=1e-5, rtol=1e-5)


def test_demo_loader_rejects_unknown_names():
    with pytest.raises(ValueError, match="input 'model_name'"):
        LoadDemoModel.execute("nope", "eps")


def test_composite_node_runs_and_names_bad_inputs():
    orig, inp = torch.rand(1, 16, 16, 3), torch.rand(1, 16, 16, 3)
    mask = torch.zeros(1, 16, 16)
    mask[:, 4:12, 4:12] = 1
    out = Composite.execute(orig, inp, mask, 0.0, "none").result[0]
    assert out.shape == orig.shape
    keep = mask[..., None].expand_as(out) == 0
    assert torch.equal(out[keep], orig[keep]) and torch.allclose(out[~keep], inp[~keep])
    with pytest.raises(ValueError, match="Composite: input 'inpainted': is 8x16"):
        Composite.execute(orig, torch.rand(1, 16, 8, 3), mask, 0.0, "none")
    with pytest.raises(ValueError, match="Composite: input 'mask': has values"):
        Composite.execute(orig, inp, mask * 2, 0.0, "none")
    with pytest.raises(ValueError, match="Composite: input 'mask': has batch size 2"):
        Composite.execute(torch.rand(3, 16, 16, 3), inp, torch.zeros(2, 16, 16), 0.0, "none")
    with pytest.raises(ValueError, match="Composite: input 'original': contains NaN"):
        Composite.execute(orig * float("nan"), inp, mask, 0.0, "none")


def test_nodes_do_not_mutate_inputs():
    orig, inp = torch.rand(2, 16, 16, 3), torch.rand(1, 16, 16, 3)
    mask = torch.rand(1, 16, 16)
    copies = [t.clone() for t in (orig, inp, mask)]
    Composite.execute(orig, inp, mask, 3.0, "lab_mean_std")
    assert all(torch.equal(a, b) for a, b in zip((orig, inp, mask), copies))


def test_every_node_has_a_current_help_page():
    """js/docs/<node_id>.md (ComfyUI's node documentation panel) exists and matches the schema
    (regenerate with `make node-docs`)."""
    sys.path.insert(0, os.path.join(harness.ROOT, "tools", "product"))
    from make_node_docs import page

    for node in NODES:
        s = node.define_schema()
        path = os.path.join(harness.ROOT, "js", "docs", s.node_id + ".md")
        assert os.path.isfile(path), f"no help page for {s.node_id}: run make node-docs"
        with open(path) as f:
            assert f.read() == page(s), f"help page of {s.node_id} is stale: run make node-docs"


def test_every_output_has_a_display_name_and_every_node_search_aliases():
    """Outputs show a name, not their type (``FLOAT, FLOAT, IMAGE, MASK``); searches such as "paste back" or
    "heat map" find the node (ComfyUI versions whose Schema has ``search_aliases``)."""
    import dataclasses

    from comfy_api.latest import io

    has_aliases = "search_aliases" in {f.name for f in dataclasses.fields(io.Schema)}
    for node in NODES:
        s = node.define_schema()
        assert all(o.display_name for o in s.outputs), s.node_id
        if has_aliases:
            assert s.search_aliases, s.node_id
    if has_aliases:
        found = {a for node in NODES for a in node.define_schema().search_aliases}
        assert {"paste back", "color match", "heat map"} <= found


def test_research_parameters_are_advanced_where_comfyui_supports_it():
    """Simple by default: on ComfyUI releases with the input flag `advanced` (folded away in the UI), the
    research-heavy nodes show only a few widgets; every advanced widget has a default."""
    from priorpaint.nodes.common import ADVANCED

    if not ADVANCED:
        pytest.skip("this ComfyUI has no 'advanced' input flag (added after 0.3.75)")
    most = {"PriorPaintVIPaint": 5, "PriorPaintHarmonizedSampler": 3, "PriorPaintTrainAIDGuidance": 6,
            "PriorPaintRePaintPlusSampler": 3}
    widgets = ("INT", "FLOAT", "BOOLEAN", "COMBO", "STRING")
    for s in schemas():
        simple = [i.id for i in s.inputs if str(i.get_io_type()) in widgets and not getattr(i, "advanced", None)]
        for i in s.inputs:
            if getattr(i, "advanced", None):
                assert getattr(i, "default", None) is not None, f"{s.node_id}.{i.id} is advanced without a default"
        if s.node_id in most:
            assert len(simple) <= most[s.node_id], f"{s.node_id} shows {simple}"
