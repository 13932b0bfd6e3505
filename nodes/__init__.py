"""ComfyUI adapters (V3 schema). Thin: validate and convert at the boundary, call ``samplers/``."""
from comfy_api.latest import ComfyExtension, io

from .aid import ApplyAIDGuidance, LoadAIDGuidance, TrainAIDGuidance, TrainAIDGuidanceSimple
from .image import Composite, ExamplePhoto
from .inpaint import InpaintCrop, InpaintEncode, InpaintStitch
from .isdiff import DCECheck, GMMSeed, HarmonizedSampler
from .ksampler import PriorPaintKSampler, PriorPaintKSamplerAdvanced
from .models import LoadDemoModel
from .repaint import RePaintPlusSampler
from .vipaint import VIPaint, VIPaintSimple

NODES: list[type[io.ComfyNode]] = [LoadDemoModel, Composite, RePaintPlusSampler, GMMSeed, DCECheck,
                                   HarmonizedSampler, VIPaint, LoadAIDGuidance,
                                   ApplyAIDGuidance, TrainAIDGuidance, ExamplePhoto, PriorPaintKSampler,
                                   PriorPaintKSamplerAdvanced, InpaintEncode, InpaintCrop, InpaintStitch,
                                   VIPaintSimple, TrainAIDGuidanceSimple]


class PriorPaintExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
