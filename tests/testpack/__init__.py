"""A test-only ComfyUI pack: tiny real architectures (SD1.5 EPS, SD2 v-prediction, Flux) with their VAEs
and conditioning, so end-to-end tests can run latent workflows through a real server on CPU.
Loaded by tests/e2e through --extra-model-paths-config; never shipped."""
import os
import sys

from comfy_api.latest import ComfyExtension, io

_TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "tools")
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
            inputs=[io.Combo.Input("family", options=list(FAMILIES), tooltip="sd15 (EPS), sd2v (v-prediction), flux (flow)"),
                    io.Int.Input("seed", default=0, min=0, max=2**31, tooltip="weights seed")],
            outputs=[io.Model.Output("model"), io.Vae.Output("vae"), io.Conditioning.Output("positive"),
                     io.Conditioning.Output("negative")],
            is_experimental=True)

    @classmethod
    def execute(cls, family, seed=0):
        b = tiny_model(family, seed)
        return io.NodeOutput(b.model, b.vae, b.positive, b.negative)


class Ext(ComfyExtension):
    async def get_node_list(self):
        return [TinyModel]


async def comfy_entrypoint():
    return Ext()
