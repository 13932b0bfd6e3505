// PriorPaint frontend extension: shows what a node learned at run time (scores, attempts, losses)
// on the node itself. The server sends "priorpaint.<event>" messages with {node, ...}; without this
// file nothing breaks -- the nodes work the same, only the on-node read-out is missing.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

function showOnNode(nodeId, text, curve) {
  const node = app.graph?.getNodeById?.(Number(nodeId));
  if (!node) return;
  node.priorpaintStatus = text;
  // a loss / cost curve (VIPaint's fit, AID training) drawn as a sparkline above the text
  node.priorpaintCurve = Array.isArray(curve) && curve.length > 1 ? curve.slice(-200) : null;
  node.setDirtyCanvas?.(true, true);
}

function drawCurve(ctx, values, x, y, w, h) {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return;
  const lo = Math.min(...finite), hi = Math.max(...finite), span = hi - lo || 1;
  ctx.strokeStyle = "#9fd";
  ctx.lineWidth = 1;
  ctx.beginPath();
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const px = x + (w * i) / (values.length - 1), py = y + h - (h * (v - lo)) / span;
    i === 0 ? ctx.moveTo(px, py) : ctx.lineTo(px, py);
  });
  ctx.stroke();
}

app.registerExtension({
  name: "priorpaint.status",
  async setup() {
    api.addEventListener("priorpaint.status", (e) => {
      const d = e.detail || {};
      if (d.node !== undefined && d.text) showOnNode(d.node, d.text, d.curve);
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
      if (this.priorpaintCurve) drawCurve(ctx, this.priorpaintCurve, 8, this.size[1] - 42, this.size[0] - 16, 24);
      ctx.restore();
    };
  },
});
