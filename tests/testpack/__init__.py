"""A test-only ComfyUI pack: tiny real architectures (SD1.5 EPS, SD2 v-prediction, Flux) with their VAEs
and conditioning, so end-to-end tests can run latent workflows through a real server on CPU.
Loaded by tests/e2e through --extra-model-paths-config; never shipped."""
import os
import sys

from comfy_api.latest import ComfyExtension, io

_TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "tools", "lib")
sys.path.insert(0, _TOOLS)
from packimport import import_pack  # noqa: E402

import_pack("priorpaint")
from priorpaint.support.comfy_models import FAMILIES, tiny_model  # noqa: E402


class TinyModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PriorPaintTestTinyModel", display_name="Tiny Model (tests)", category="PriorPaint/_for_testing",
            description="A real ComfyUI architecture at a tiny random configuration, for tests.",
            inputs=[io.Combo.Input("family", options=list(FAMILIES), tooltip="sd15 (EPS), sd2v (v-prediction), sdxl (EPS + ADM), flux (flow), wan (video, flow)"),
                    io.Int.Input("seed", default=0, min=0, max=2**31, tooltip="weights seed")],
            outputs=[io.Model.Output("model"), io.Vae.Output("vae"), io.Conditioning.Output("positive"),
                     io.Conditioning.Output("negative")],
            is_experimental=True)

    @classmethod
    def execute(cls, family, seed=0):
        b = tiny_model(family, seed)
        return io.NodeOutput(b.model, b.vae, b.positive, b.negative)


def checksum(value) -> str:
    """A content hash of anything a node receives: tensors by value, dicts/lists recursively, a MODEL by its
    weights, options and patches, a VAE by its weights, other objects by type."""
    import hashlib

    import torch

    h = hashlib.sha256()

    def walk(v):
        if torch.is_tensor(v):
            h.update(str((tuple(v.shape), str(v.dtype))).encode())
            h.update(v.detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
        elif isinstance(v, dict):
            for k in sorted(v, key=str):
                h.update(str(k).encode())
                walk(v[k])
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif hasattr(v, "model_options") and hasattr(v, "model"):  # ModelPatcher
            walk(v.model.state_dict())
            h.update(repr(sorted(v.model_options.keys())).encode())
            h.update(repr(sorted(v.patches.keys())).encode())
            h.update(str(v.patches_uuid).encode())
        elif hasattr(v, "first_stage_model"):  # VAE
            walk(v.first_stage_model.state_dict())
        elif isinstance(v, (int, float, str, bool)) or v is None:
            h.update(repr(v).encode())
        else:
            h.update(type(v).__name__.encode())
    walk(value)
    return h.hexdigest()[:16]


class Checksum(io.ComfyNode):
    """Outputs (as UI text) a content hash of ``value``; ``after`` only orders it after another node."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PriorPaintTestChecksum", display_name="Checksum (tests)", category="PriorPaint/_for_testing",
            description="A content hash of the input, for cache-safety tests.",
            inputs=[io.AnyType.Input("value", tooltip="anything"),
                    io.AnyType.Input("after", optional=True, tooltip="run after this output")],
            outputs=[io.String.Output("hash")], is_output_node=True, is_experimental=True)

    @classmethod
    def fingerprint_inputs(cls, **kw):
        return float("nan")  # never cached: always re-hash

    @classmethod
    def execute(cls, value, after=None):
        from comfy_api.latest import ui

        c = checksum(value)
        return io.NodeOutput(c, ui=ui.PreviewText(c))


class HostileMask(io.ComfyNode):
    """A MASK with a box of any value, NaN and Inf included: what a faulty third-party node could hand on."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PriorPaintTestHostileMask", display_name="Hostile Mask (tests)",
            category="PriorPaint/_for_testing",
            description="A mask [batch, height, width] with a centred box of 'value' (a number, nan or inf).",
            inputs=[io.String.Input("value", default="1.0"), io.Int.Input("width", default=64, min=1, max=4096),
                    io.Int.Input("height", default=64, min=1, max=4096),
                    io.Int.Input("batch", default=1, min=1, max=64)],
            outputs=[io.Mask.Output("mask")], is_experimental=True)

    @classmethod
    def execute(cls, value, width, height, batch):
        import torch

        m = torch.zeros(batch, height, width)
        m[:, height // 4: height // 4 + max(1, height // 2), width // 4: width // 4 + max(1, width // 2)] = float(value)
        return io.NodeOutput(m)


class Ext(ComfyExtension):
    async def get_node_list(self):
        return [TinyModel, Checksum, HostileMask]


async def comfy_entrypoint():
    return Ext()
