// bayeslens live explorers: the network's forward pass in a Web Worker (our code, MIT).
//
// So that the page stays responsive and the exact side (on the page's thread) and the
// network run at the same time. Messages in: {type: "init", config, index, borders,
// weights (ArrayBuffer), kernel (ArrayBuffer of live-kernels.wasm or null), maxQuery} and
// {type: "run", id, x, y, xq, levels}; out: {type: "ready", simd} or {type: "done", id, mean,
// lower, upper} or {type: "error", id, message}.
/* global importScripts */
importScripts("live-math.js", "live-network.js");

var net = null;

self.onmessage = function (ev) {
  var m = ev.data;
  try {
    if (m.type === "init") {
      var kernel = null;
      if (m.kernel && typeof WebAssembly !== "undefined" && WebAssembly.validate(m.kernel)) {
        kernel = new WebAssembly.Module(m.kernel);
      }
      var L = self.BayeslensLive;
      var tensors = L.network.decodeWeights(m.weights, m.index);
      net = new L.network.Network(m.config, tensors, m.borders, kernel, m.maxQuery);
      self.postMessage({ type: "ready", simd: net.simd });
    } else if (m.type === "run") {
      var s = net.summaries(net.logits(m.x, m.y, m.xq), m.levels);
      self.postMessage({ type: "done", id: m.id, mean: s.mean, lower: s.quantiles[0],
        upper: s.quantiles[1] });
    }
  } catch (err) {
    self.postMessage({ type: "error", id: m.id, message: String(err && err.message || err) });
  }
};
