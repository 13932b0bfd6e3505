"""PriorPaint: inpainting with any pretrained diffusion model, as ComfyUI nodes.

ComfyUI V3 entry point only (no NODE_CLASS_MAPPINGS: with it present ComfyUI would ignore
``comfy_entrypoint``). The node modules are imported lazily so that the pure-torch packages
(``samplers/``, ``demomodel/``) can be imported and tested without ComfyUI.
"""

WEB_DIRECTORY = "./js"
REQUIRES_COMFYUI = (0, 3, 75)  # keep in step with requires-comfyui in pyproject.toml


def _check_comfyui_version() -> None:
    """Inside ComfyUI (``comfyui_version`` importable), refuse an older release with a clear message
    instead of failing later on a missing API. Outside ComfyUI (tests of the pure-torch core) nothing."""
    try:
        from comfyui_version import __version__ as version
    except ImportError:
        return
    try:
        have = tuple(int(p) for p in version.split("-")[0].split(".")[:3])
    except ValueError:
        return  # a development build: assume current
    if have < REQUIRES_COMFYUI:
        need = ".".join(map(str, REQUIRES_COMFYUI))
        raise ImportError(f"PriorPaint needs ComfyUI >= {need} (the V3 node API); this is ComfyUI {version}. "
                          "Update ComfyUI, or install an older PriorPaint release.")


_check_comfyui_version()


async def comfy_entrypoint():
    from .nodes import PriorPaintExtension

    return PriorPaintExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
