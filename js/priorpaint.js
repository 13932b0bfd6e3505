// PriorPaint frontend extension: shows a node's run-time read-out (DCE scores, Harmonized Sampler attempts,
// VIPaint's fit, AID module info and training) in a read-only text box on the node -- a widget like any
// other, so it sits below the inputs (never over them) and shows in the classic and the Nodes 2.0 frontend.
// Final read-outs arrive as ComfyUI's standard UI output {text: [...]} (replayed on cached reruns and kept
// in the node's outputs); progress during a run arrives as "priorpaint.status" messages {node, text}.
// Node ids of nodes inside subgraphs are execution paths like "12:5" (subgraph node 12, inner node 5).
// Without this file nothing breaks: previews (the DCE heat map) are standard images the frontend shows.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { ComfyWidgets } from "../../scripts/widgets.js";

const READOUT = "priorpaint_readout";

// The node an execution id names: "7" in the root graph, "12:5" inside subgraph node 12, and so on.
export function resolveNode(graph, executionId) {
  let g = graph;
  let node = null;
  for (const part of String(executionId).split(":")) {
    if (!g) return null;
    node = g.getNodeById?.(Number(part)) ?? g.getNodeById?.(part) ?? null;
    if (!node) return null;
    g = node.subgraph ?? null;
  }
  return node;
}

function setReadout(node, text) {
  if (!node || typeof text !== "string") return;
  let w = node.widgets?.find((x) => x.name === READOUT);
  if (!w) {
    w = ComfyWidgets.STRING(node, READOUT, ["STRING", { multiline: true }], app).widget;
    w.serialize = false; // never saved into the workflow: widget order and values stay as released
    if (w.element) {
      w.element.readOnly = true;
      w.element.style.opacity = 0.8;
    }
    w.options = { ...(w.options || {}), read_only: true };
  }
  w.value = text;
  node.priorpaintStatus = text;
  node.setDirtyCanvas?.(true, true);
}

app.registerExtension({
  name: "priorpaint.readout",
  async setup() {
    api.addEventListener("priorpaint.status", (e) => {
      const d = e.detail || {};
      if (d.node !== undefined && d.node !== null && d.text) setReadout(resolveNode(app.graph, d.node), d.text);
    });
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData?.name?.startsWith("PriorPaint")) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = message?.text;
      if (Array.isArray(text) && text.length) setReadout(this, text.join("\n"));
    };
  },
});
