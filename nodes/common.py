"""ComfyUI-side helpers shared by the nodes: type sockets, errors, messages to the UI."""
from __future__ import annotations

import logging

from ..samplers.masks import InputError

log = logging.getLogger("PriorPaint")

CATEGORY = "PriorPaint"


def node_error(node: str, err: InputError) -> ValueError:
    """Prefix an input error with the node's display name, so the UI message says where it came from."""
    return ValueError(f"PriorPaint {node}: {err}")


def send_ui_message(event: str, data: dict, node_id: str | None = None) -> None:
    """Send ``priorpaint.<event>`` to the browser when a server is running (no-op in-process)."""
    try:
        from server import PromptServer
    except Exception:  # not running inside a server (tests, scripts)
        return
    inst = getattr(PromptServer, "instance", None)
    if inst is None:
        return
    payload = dict(data)
    if node_id is not None:
        payload["node"] = node_id
    inst.send_sync(f"priorpaint.{event}", payload)


def unique_id(cls) -> str | None:
    """The running node's id (its ``io.Hidden.unique_id``), the address of its ``priorpaint.status``
    messages; None outside a server run."""
    return getattr(cls.hidden, "unique_id", None) if cls.hidden is not None else None


def schema_defaults(node) -> dict:
    """``{input: default}`` of a node's widget inputs, as its schema declares them: what a simple node passes
    for the settings it leaves to its advanced twin."""
    return {i.id: i.default for i in node.define_schema().inputs if getattr(i, "default", None) is not None}


def readout(text: str, images=None, cls=None) -> dict:
    """A node's run-time read-out as ComfyUI's standard UI output: ``text`` (shown by the pack's extension
    in a read-only box on the node, in both frontends) and optional preview ``images`` (IMAGE, shown by
    the frontend itself). Cached reruns replay it like any UI output."""
    out = {"text": (text,)}
    if images is not None:
        from comfy_api.latest import ui

        out.update(ui.PreviewImage(images, cls=cls).as_dict())
    return out


def _advanced_supported() -> bool:
    import inspect

    from comfy_api.latest import io

    return "advanced" in inspect.signature(io.Input.__init__).parameters


ADVANCED = {"advanced": True} if _advanced_supported() else {}
"""``**ADVANCED`` on an input marks it advanced (folded away by frontends that know the flag, ComfyUI ≥ 0.4):
research parameters with good defaults. Older releases ignore it (the flag is left out)."""


def schema(**kw):
    """``io.Schema`` with only the fields this ComfyUI knows (``search_aliases`` arrived after 0.3.75),
    so one definition serves every supported release."""
    import dataclasses

    from comfy_api.latest import io

    known = {f.name for f in dataclasses.fields(io.Schema)}
    return io.Schema(**{k: v for k, v in kw.items() if k in known})
