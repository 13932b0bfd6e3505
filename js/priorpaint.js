// PriorPaint frontend extension: shows what a node learned at run time (scores, attempts, losses)
// on the node itself. The server sends "priorpaint.<event>" messages with {node, ...}; without this
// file nothing breaks -- the nodes work the same, only the on-node read-out is missing.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

function showOnNode(nodeId, text) {
  const node = app.graph?.getNodeById?.(Number(nodeId));
  if (!node) return;
  node.priorpaintStatus = text;
  node.setDirtyCanvas?.(true, true);
}

app.registerExtension({
  name: "priorpaint.status",
  async setup() {
    api.addEventListener("priorpaint.status", (e) => {
      const d = e.detail || {};
      if (d.node !== undefined && d.text) showOnNode(d.node, d.text);
    });
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData?.name?.startsWith("PriorPaint")) return;
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx) {
      onDrawForeground?.apply(this, arguments);
      if (!this.priorpaintStatus || this.flags?.collapsed) return;
      ctx.save();
      ctx.font = "11px sans-serif";
      ctx.fillStyle = "#9fd";
      ctx.fillText(this.priorpaintStatus, 8, this.size[1] - 6);
      ctx.restore();
    };
  },
});
