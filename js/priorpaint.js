// PriorPaint frontend extension: shows a node's run-time read-out (DCE scores, Harmonized Sampler attempts,
// VIPaint's fit, AID module info and training, the Inpaint KSampler's warnings) in a read-only text box on
// the node. Without this file nothing breaks: previews (the DCE heat map) are standard images the frontend
// shows, and the text is in the standard UI output {text: [...]} of the run's history.
//
// What a read-out must never do is change the prompt: ComfyUI keys its cache on every input the prompt
// carries, so a read-out sent as an input would re-run the node (and everything after it) on an unchanged
// rerun. The box is therefore a widget with options.serialize = false (left out of the prompt) and
// serialize = false (left out of the workflow's widgets_values, so widget order stays as released). Its
// latest text is kept in node.properties, which the saved workflow carries but the prompt never does, so it
// is back after a tab switch or a page reload.
//
// Where values arrive from:
//  - the standard UI output {text: [...]}: onExecuted, also replayed by the server on cached reruns;
//  - "priorpaint.status" messages {node, text}: progress during a run. Node ids of nodes inside subgraphs
//    are execution paths like "12:5" (subgraph node 12, inner node 5).
// In the Nodes 2.0 (Vue) frontend a widget's value is copied into the Vue node when the node is added; later
// changes reach it only through the widget's callback, which that frontend wraps. The box is therefore
// created with the node, and every update goes through setValue below.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { ComfyWidgets } from "../../scripts/widgets.js";

const READOUT = "priorpaint_readout";
const PROPERTY = "priorpaint_readout";

// The node types that report something at run time (kept equal to the Python side by tests/nodes/test_readouts.py).
export const READOUT_NODES = [
  "PriorPaintDCECheck",
  "PriorPaintHarmonizedSampler",
  "PriorPaintVIPaint",
  "PriorPaintVIPaintSimple",
  "PriorPaintLoadAIDGuidance",
  "PriorPaintTrainAIDGuidance",
  "PriorPaintTrainAIDGuidanceSimple",
  "PriorPaintKSampler",
  "PriorPaintKSamplerAdvanced",
];

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

function readoutWidget(node) {
  let w = node.widgets?.find((x) => x.name === READOUT);
  if (w) return w;
  w = ComfyWidgets.STRING(node, READOUT, ["STRING", { multiline: true, placeholder: "read-out: filled in by a run" }], app).widget;
  w.serialize = false; // not in widgets_values
  w.options = { ...(w.options || {}), serialize: false, read_only: true }; // not in the prompt; not editable
  if (w.element) {
    w.element.readOnly = true;
    w.element.style.opacity = 0.8;
  }
  return w;
}

function setValue(w, text) {
  // The Vue frontend wraps the callback to carry the value into its node view; classic reads w.value.
  if (typeof w.callback === "function") w.callback(text);
  if (w.value !== text) w.value = text;
}

function setReadout(node, text) {
  if (!node || typeof text !== "string") return;
  node.properties = node.properties || {};
  node.properties[PROPERTY] = text;
  setValue(readoutWidget(node), text);
  node.setDirtyCanvas?.(true, true);
  // The open workflow's state is what a tab switch restores: record the new text there now (a run changes
  // nothing the frontend itself would record until the next edit).
  app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
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
    if (!READOUT_NODES.includes(nodeData?.name)) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = onNodeCreated?.apply(this, arguments);
      readoutWidget(this);
      return r;
    };
    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function (info) {
      const r = onConfigure?.apply(this, arguments);
      const text = info?.properties?.[PROPERTY];
      if (typeof text === "string") setValue(readoutWidget(this), text);
      return r;
    };
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = message?.text;
      if (Array.isArray(text) && text.length) setReadout(this, text.join("\n"));
    };
  },
});
