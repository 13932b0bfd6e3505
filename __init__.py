"""PriorPaint: inpainting with any pretrained diffusion model, as ComfyUI nodes.

ComfyUI V3 entry point only (no NODE_CLASS_MAPPINGS: with it present ComfyUI would ignore
``comfy_entrypoint``). The node modules are imported lazily so that the pure-torch packages
(``samplers/``, ``demomodel/``) can be imported and tested without ComfyUI.
"""

WEB_DIRECTORY = "./js"


async def comfy_entrypoint():
    from .nodes import PriorPaintExtension

    return PriorPaintExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
