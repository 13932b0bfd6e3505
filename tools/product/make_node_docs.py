"""Write the node help pages ComfyUI's frontend shows in its node documentation panel:
``js/docs/<node_id>.md`` (WEB_DIRECTORY/docs/NodeName.md), generated from the node schemas so they
never drift from the nodes (description, every input with its type, default and tooltip, outputs)
plus a pointer to the technique's page in docs/.

    python tools/product/make_node_docs.py        (make node-docs)
"""
from __future__ import annotations

import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
from packimport import ROOT  # noqa: E402

MORE = {  # node id prefix -> the technique page in the repository
    "PriorPaintRePaintPlus": "docs/repaint-plus.md",
    "PriorPaintGMMSeed": "docs/is-diff.md",
    "PriorPaintDCECheck": "docs/is-diff.md",
    "PriorPaintHarmonized": "docs/is-diff.md",
    "PriorPaintVIPaint": "docs/vipaint.md",
    "PriorPaintLoadAID": "docs/aid.md",
    "PriorPaintApplyAID": "docs/aid.md",
    "PriorPaintTrainAID": "docs/aid.md",
    "PriorPaintLoadDemoModel": "docs/demo-model.md",
    "PriorPaintComposite": "README.md",
}


def page(schema) -> str:
    lines = [f"# {schema.display_name}", "", schema.description, "", "## Inputs", "",
             "| input | type | default | what it does |", "|---|---|---|---|"]
    for i in schema.inputs:
        default = getattr(i, "default", None)
        opt = " (optional)" if getattr(i, "optional", False) else ""
        tip = (i.tooltip or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{i.id}`{opt} | {i.get_io_type()} | {'' if default is None else f'`{default}`'} | {tip} |")
    lines += ["", "## Outputs", ""]
    for o in schema.outputs:
        lines.append(f"- `{o.id}` ({o.get_io_type()}): {o.tooltip or ''}")
    ref = next((v for k, v in MORE.items() if schema.node_id.startswith(k)), None)
    if ref:
        lines += ["", f"More: `{ref}` in the PriorPaint repository."]
    return "\n".join(lines) + "\n"


def main():
    import comfyenv

    comfyenv.comfy_setup()
    from priorpaint.nodes import NODES

    out = os.path.join(ROOT, "js", "docs")
    os.makedirs(out, exist_ok=True)
    for node in NODES:
        s = node.define_schema()
        with open(os.path.join(out, s.node_id + ".md"), "w") as f:
            f.write(page(s))
        print("wrote", os.path.join("js", "docs", s.node_id + ".md"))


if __name__ == "__main__":
    main()
