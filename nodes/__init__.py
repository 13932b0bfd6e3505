"""ComfyUI adapters (V3 schema). Thin: validate and convert at the boundary, call ``samplers/``."""
from comfy_api.latest import ComfyExtension, io

from .image import Composite
from .models import LoadDemoModel

NODES: list[type[io.ComfyNode]] = [LoadDemoModel, Composite]


class PriorPaintExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
