// bayeslens live explorers, 5/5: page wiring (our code, MIT).
//
// Every <div class="bayeslens-live" data-explorer="NAME"> on the page (written by
// bayeslens.webexport.live_explorer) becomes an explorer: it loads live/NAME/explorer.json and
// weights.bin (written by `python -m bayeslens.webexport`) from beside this script, and
// redraws the exact PPD and the network on every change of the context.
//
// Test hook: window.bayeslensLive, an array with one entry per live explorer on the page, in
// page order. Each entry has
//   name                 the explorer's name (e.g. "steps")
//   ready                a Promise, resolved once the data are loaded (rejected if they cannot be)
//   setContext(x, y)     sets the context points (arrays of numbers) and resolves to
//                        {x_query, exact_mean, exact_lower, exact_upper, network_mean,
//                         network_lower, network_upper, messages, n_context, x_context,
//                         y_context, timings}
//                        as plain arrays; a side that cannot answer (see messages) is null;
//                        timings (ms): exact_ms, network_ms (from the start, run alongside
//                        the exact side in a Web Worker), draw_ms, total_ms
//   result()             the last such result
//   chart                the chart (toClient(x, y) gives the screen position of a data point)
//   kind                 "regression" (these) or "tokens" (a token explorer, data-kind="tokens":
//                        live-tokens.js, with setTokens and setText instead of setContext)
// The explorer scripts load only on pages that hold an explorer (book/_ext/live_explorers.py).
(function () {
  "use strict";

  var L = window.BayeslensLive;
  var me = document.currentScript && document.currentScript.src;
  var BASE = me ? me.replace(/live\.js(\?.*)?$/, "") : "";
  var hook = (window.bayeslensLive = window.bayeslensLive || []);
  var kernelPromise = null;

  function fetchOk(url, how) {
    return fetch(url, { cache: "no-cache" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r[how]();
    });
  }

  /** live-kernels.wasm's bytes, fetched once per page; null where WebAssembly SIMD is missing. */
  function kernels() {
    if (!kernelPromise) {
      kernelPromise = fetchOk(BASE + "live-kernels.wasm", "arrayBuffer")
        .then(function (bytes) {
          return typeof WebAssembly !== "undefined" && WebAssembly.validate(bytes) ? bytes : null;
        })
        .catch(function () { return null; });
    }
    return kernelPromise;
  }

  /**
   * The network of an explorer: in a Web Worker where the browser allows one (the page stays
   * responsive and the exact side runs meanwhile), else on the page's thread. Resolves to
   * {run(x, y, xq, levels) -> Promise<{mean, lower, upper}>, simd, worker}.
   */
  function startNetwork(doc, weights, kernel) {
    var wt = doc.model.weights, nq = doc.explorer.x_query.length;
    function local() {
      var tensors = L.network.decodeWeights(weights, wt);
      var km = kernel ? new WebAssembly.Module(kernel) : null;
      var net = new L.network.Network(doc.model.config, tensors, doc.model.borders, km, nq);
      return {
        simd: net.simd,
        worker: false,
        run: function (x, y, xq, levels) {
          return new Promise(function (resolve) {
            var s = net.summaries(net.logits(x, y, xq), levels);
            resolve({ mean: s.mean, lower: s.quantiles[0], upper: s.quantiles[1] });
          });
        },
      };
    }
    if (typeof Worker === "undefined") return Promise.resolve(local());
    return new Promise(function (resolve) {
      var worker, jobs = {}, next = 0, settled = false;
      function fallback() {
        if (settled) return;
        settled = true;
        if (worker) worker.terminate();
        resolve(local());
      }
      try {
        worker = new Worker(BASE + "live-worker.js");
      } catch (err) {
        fallback();
        return;
      }
      worker.onerror = function (ev) {
        if (ev.preventDefault) ev.preventDefault();
        fallback();
      };
      worker.onmessage = function (ev) {
        var m = ev.data;
        if (m.type === "ready") {
          settled = true;
          resolve({
            simd: m.simd,
            worker: true,
            run: function (x, y, xq, levels) {
              return new Promise(function (ok, fail) {
                var id = ++next;
                jobs[id] = { ok: ok, fail: fail };
                worker.postMessage({ type: "run", id: id, x: x, y: y, xq: xq, levels: levels });
              });
            },
          });
        } else if (m.type === "error" && !settled) {
          fallback();
        } else if (jobs[m.id]) {
          var job = jobs[m.id];
          delete jobs[m.id];
          if (m.type === "done") job.ok(m); else job.fail(new Error(m.message));
        }
      };
      worker.postMessage({
        type: "init", config: doc.model.config, index: wt, borders: doc.model.borders,
        weights: weights.slice(0), kernel: kernel ? kernel.slice(0) : null, maxQuery: nq,
      });
    });
  }

  function load(name) {
    var dir = BASE + "live/" + encodeURIComponent(name) + "/";
    return fetchOk(dir + "explorer.json", "json").then(function (doc) {
      if (doc.format !== "bayeslens-live" || doc.format_version !== 1) {
        throw new Error("live/" + name + "/explorer.json has an unknown format");
      }
      var wt = doc.model.weights;
      return Promise.all([
        fetchOk(dir + wt.file + "?v=" + wt.sha256.slice(0, 16), "arrayBuffer"),
        kernels(),
      ]).then(function (got) {
        if (got[0].byteLength !== wt.bytes) throw new Error("weights.bin has the wrong size");
        return startNetwork(doc, got[0], got[1]).then(function (net) {
          doc.network = net;
          return doc;
        });
      });
    });
  }

  function h(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function finiteAll(arrays) {
    return arrays.every(function (a) {
      for (var i = 0; i < a.length; i++) if (!isFinite(a[i])) return false;
      return true;
    });
  }

  /** The context functions' means, as the prior families define them (bayeslens/priors.py). */
  function contextMean(fn, values, x) {
    var v = {};
    Object.keys(fn.fixed).forEach(function (k) { v[k] = fn.fixed[k]; });
    Object.keys(values).forEach(function (k) { v[k] = values[k]; });
    var g = function (k, d) { return v[k] === undefined ? d : v[k]; };
    if (fn.family === "step") return g("b", 0) + g("a", 0) * (x > g("c", 0) ? 1 : 0);
    return g("y0", 0) + g("A", 0) * Math.sin(g("f", 1) * x + 2 * Math.PI * g("phi", 0)) +
      g("s", 0) * x;
  }

  // ------------------------------------------------------------------------------ explorer

  function Explorer(box) {
    this.box = box;
    this.name = box.getAttribute("data-explorer");
    this.points = [];
    this.seed = 1;
    this.last = null;
    this.started = false;
    var self = this;
    this.ready = new Promise(function (resolve, reject) {
      self._resolve = resolve;
      self._reject = reject;
    });
    this.ready.catch(function () {}); // failures are shown in the box
    this.entry = {
      name: this.name,
      kind: "regression",
      ready: this.ready,
      setContext: function (x, y) { return self.setContext(x, y); },
      result: function () { return self.last; },
      chart: null,
    };
    hook.push(this.entry);
    this.message = box.querySelector(".bayeslens-live-message");
    if (this.message) {
      this.message.textContent = "Live explorer: it loads when you scroll to it (about 5.6 MB: " +
        "the exact posterior's grids and the network's weights)...";
    }
  }

  Explorer.prototype.start = function () {
    if (this.started) return this.ready;
    this.started = true;
    var self = this;
    if (typeof fetch === "undefined" || typeof Promise === "undefined") {
      this._fail(new Error("this browser lacks fetch"));
      return this.ready;
    }
    load(this.name).then(function (doc) {
      self.doc = doc;
      self._build();
      self._regenerate();
      self._resolve(self.entry);
    }).catch(function (err) { self._fail(err); });
    return this.ready;
  };

  Explorer.prototype._fail = function (err) {
    var local = location.protocol === "file:";
    this.box.classList.add("bayeslens-live-failed");
    var m = this.message || h("p", "bayeslens-live-message", this.box);
    m.textContent = "The live explorer cannot run here (" + err.message + "). " +
      (local ? "Opened from a file, the browser refuses to load its data: serve the book " +
        "(bash tasks.sh book) and open it over http. " : "") +
      "The precomputed explorer below shows the same comparison on a grid of settings.";
    this._reject(err);
  };

  Explorer.prototype._build = function () {
    var doc = this.doc, ex = doc.explorer, prior = doc.prior, self = this;
    var box = this.box;
    box.innerHTML = "";
    box.classList.add("bayeslens-live-ready");
    h("p", "bayeslens-live-title", box, ex.title);
    var help = h("p", "bayeslens-live-help", box);
    help.textContent = "Click the plot to add a context point, drag a point to move it, " +
      "click it again to remove it. The sliders redraw the points from the function.";
    var controls = h("div", "bayeslens-live-controls", box);
    this.fnIndex = 0;
    if (ex.functions.length > 1) {
      var lab = h("label", "bayeslens-live-select", controls, "function ");
      var sel = h("select", null, lab);
      ex.functions.forEach(function (f, i) { h("option", null, sel, f.label).value = i; });
      sel.addEventListener("change", function () {
        self.fnIndex = +sel.value;
        self._showSliders();
        self._regenerate();
      });
    }
    this.fnSliders = h("div", "bayeslens-live-sliders", controls);
    var common = h("div", "bayeslens-live-sliders", controls);
    this.values = {};
    ex.functions.forEach(function (f) {
      f.sliders.forEach(function (s) { self.values[f.label + "/" + s.name] = s.value; });
    });
    this.nPoints = ex.n_points.value;
    this.noise = ex.noise.value;
    this._slider(common, ex.n_points, function (v) { self.nPoints = v; });
    this._slider(common, ex.noise, function (v) { self.noise = v; });
    var buttons = h("div", "bayeslens-live-buttons", controls);
    h("button", null, buttons, "new noise").addEventListener("click", function () {
      self.seed += 1;
      self._regenerate();
    });
    h("button", null, buttons, "clear points").addEventListener("click", function () {
      self.points = [];
      self.update();
    });
    this._showSliders();
    var x0 = prior.x_range[0], x1 = prior.x_range[1], pad = 0.15 * (x1 - x0);
    this.chart = new L.draw.Chart(box, {
      xDomain: [x0 - pad, x1 + pad], yDomain: ex.y_range, xRange: prior.x_range,
      width: 680, height: 380,
    });
    this.entry.chart = this.chart;
    this.bars = ex.latents ? new L.draw.Bars(box, 680, 120) : null;
    this.status = h("div", "bayeslens-live-status", box);
    this.status.setAttribute("role", "status");
    this.timing = h("p", "bayeslens-live-timing", box);
    var ny = 120;
    this.yGrid = L.math.linspace(ex.y_range[0], ex.y_range[1], ny);
    this.densityCache = {};
    this._pointer();
  };

  Explorer.prototype._slider = function (parent, s, set) {
    var self = this, lab = h("label", "bayeslens-live-slider", parent);
    h("span", "name", lab, s.label);
    var input = h("input", null, lab);
    input.type = "range";
    input.min = s.lo;
    input.max = s.hi;
    input.step = s.step;
    input.value = s.value;
    input.setAttribute("data-param", s.name);
    var out = h("output", null, lab, String(s.value));
    input.addEventListener("input", function () {
      var v = +input.value;
      out.textContent = String(v);
      set(v);
      self._regenerate();
    });
  };

  Explorer.prototype._showSliders = function () {
    var self = this, f = this.doc.explorer.functions[this.fnIndex];
    this.fnSliders.innerHTML = "";
    f.sliders.forEach(function (s) {
      var key = f.label + "/" + s.name;
      self._slider(self.fnSliders, Object.assign({}, s, { value: self.values[key] }),
        function (v) { self.values[key] = v; });
    });
  };

  /** Context points from the current function, n, noise and seed. */
  Explorer.prototype._regenerate = function () {
    var f = this.doc.explorer.functions[this.fnIndex], vals = {}, self = this;
    f.sliders.forEach(function (s) { vals[s.name] = self.values[f.label + "/" + s.name]; });
    var xr = this.doc.prior.x_range, xs = L.math.linspace(xr[0], xr[1], Math.max(this.nPoints, 1));
    var rng = L.math.rng(this.seed * 7919);
    this.points = [];
    for (var i = 0; i < this.nPoints; i++) {
      var x = this.nPoints === 1 ? 0.5 * (xr[0] + xr[1]) : xs[i];
      this.points.push({ x: x, y: contextMean(f, vals, x) + this.noise * rng.normal() });
    }
    this.update();
  };

  /**
   * Redraw at the next animation frame. Changes in between, and changes while a redraw is
   * still waiting for the network, coalesce into one redraw of the latest points.
   */
  Explorer.prototype.update = function () {
    var self = this;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(function () {
      self.pending = false;
      if (self.busy) { self.dirty = true; return; }
      self.compute();
    });
  };

  Explorer.prototype.setContext = function (x, y) {
    var self = this;
    this.start();
    return this.ready.then(function () {
      if (!x || !y || x.length !== y.length) {
        throw new Error("setContext needs two arrays of equal length");
      }
      return (self.busy || Promise.resolve()).then(function () {
        self.points = Array.from(x, function (xi, i) { return { x: +xi, y: +y[i] }; });
        return self.compute();
      });
    });
  };

  function plain(a) {
    return a ? Array.from(a) : null;
  }

  /**
   * Compute both sides for the current points and draw them: the network's job starts
   * first (in its worker), the exact side is computed and drawn meanwhile. Resolves to the
   * numbers (the hook's result).
   */
  Explorer.prototype.compute = function () {
    var doc = this.doc, ex = doc.explorer, prior = doc.prior, net = doc.network, self = this;
    var xq = ex.x_query, nq = xq.length, levels = ex.levels, messages = [];
    var pts = this.points.slice(), n = pts.length;
    var x = pts.map(function (p) { return p.x; }), y = pts.map(function (p) { return p.y; });
    var lo = prior.x_range[0], hi = prior.x_range[1];
    var outside = function (v) { return v < lo || v > hi; };
    var nOut = x.filter(outside).length, maxc = doc.model.config.max_context;
    var t0 = performance.now(), exact = null, lat = null, job = null;
    if (n === 0) {
      messages.push("The network needs at least one context point: click the plot to add one.");
    } else if (n > maxc) {
      messages.push("The network was trained on contexts of at most " + maxc + " points; this " +
        "one has " + n + ", so its answer is not shown (the exact posterior takes any number).");
    } else {
      job = net.run(x, y, xq, levels);
      if (nOut) messages.push("The network answers, but it never saw x outside [" + lo + ", " +
        hi + "] in training.");
    }
    if (nOut) {
      messages.unshift(nOut + " point" + (nOut > 1 ? "s lie" : " lies") + " outside the " +
        "prior's x range [" + lo + ", " + hi + "], where p(x) = 0: the exact posterior is " +
        "undefined, so it is not drawn. Drag the point back or click it to remove it.");
    } else {
      try {
        if (n === 0 && this.priorPredictive) {
          // the same for every empty context: computed once (E3's 10,302 atoms take ~0.2 s)
          exact = this.priorPredictive.exact;
          lat = this.priorPredictive.lat;
        } else {
          var post = L.exact.fit(prior, x, y);
          var atoms = post.atoms(xq);
          var s = L.exact.summaries(atoms, nq, levels);
          if (!finiteAll([s.mean, s.quantiles[0], s.quantiles[1]])) {
            throw new Error("the exact posterior is not finite for this context");
          }
          exact = {
            x: xq, mean: s.mean, lower: s.quantiles[0], upper: s.quantiles[1],
            density: L.exact.density(atoms, nq, this.yGrid, this.densityCache),
            yGrid: this.yGrid,
          };
          lat = ex.latents ? post.latents(ex.latents) : null;
          if (n === 0) this.priorPredictive = { exact: exact, lat: lat };
        }
      } catch (err) {
        exact = null;
        lat = null;
        messages.unshift("Exact posterior: " + err.message + ".");
      }
      if (n === 0) messages.unshift("No context points: the exact side shows the prior " +
        "predictive.");
    }
    var t1 = performance.now();
    this.chart.drawExact(exact);
    this.chart.drawPoints(pts, outside);
    if (this.bars) this.bars.draw(lat, this.chart.opts.xDomain);
    var t2 = performance.now();
    this.busy = (job || Promise.resolve(null)).then(function (r) {
      if (r && !finiteAll([r.mean, r.lower, r.upper])) {
        messages.push("The network's output is not finite for this context.");
        r = null;
      }
      return r;
    }, function (err) {
      messages.push("The network failed: " + err.message + ".");
      return null;
    }).then(function (network) {
      var t3 = performance.now();
      self.chart.drawNetwork(network && { x: xq, mean: network.mean, lower: network.lower,
        upper: network.upper });
      self.status.innerHTML = "";
      messages.forEach(function (m) { h("p", null, self.status, m); });
      self.box.classList.toggle("bayeslens-live-warn", messages.length > 0);
      var t4 = performance.now();
      var timings = {
        exact_ms: t1 - t0, network_ms: job ? t3 - t0 : 0, draw_ms: t2 - t1 + (t4 - t3),
        total_ms: t4 - t0,
      };
      self.timing.textContent = n + " context point" + (n === 1 ? "" : "s") + " · computed " +
        "in your browser in " + timings.total_ms.toFixed(0) + " ms (exact " +
        timings.exact_ms.toFixed(0) + " ms" + (job ? ", network " +
        timings.network_ms.toFixed(0) + " ms, alongside" : "") + ")" +
        (net.simd ? "" : "; no WebAssembly SIMD here, so the network runs slower");
      self.last = {
        x_query: plain(xq),
        exact_mean: exact && plain(exact.mean),
        exact_lower: exact && plain(exact.lower),
        exact_upper: exact && plain(exact.upper),
        network_mean: network && plain(network.mean),
        network_lower: network && plain(network.lower),
        network_upper: network && plain(network.upper),
        latent_probs: lat && plain(lat.probs),
        messages: messages,
        n_context: n,
        x_context: x,
        y_context: y,
        simd: net.simd,
        worker: net.worker,
        timings: timings,
      };
      self.busy = null;
      if (self.dirty) {
        self.dirty = false;
        self.update();
      }
      return self.last;
    });
    return this.busy;
  };

  /** Click to add, drag to move, click a point again to remove it. */
  Explorer.prototype._pointer = function () {
    var self = this, svg = this.chart.svg, drag = null;
    svg.addEventListener("pointerdown", function (ev) {
      if (ev.button !== 0) return;
      var g = ev.target.closest && ev.target.closest(".point");
      if (g) {
        drag = { index: +g.getAttribute("data-index"), x0: ev.clientX, y0: ev.clientY,
          moved: false };
        svg.setPointerCapture(ev.pointerId);
        ev.preventDefault();
        return;
      }
      var p = self.chart.toData(ev.clientX, ev.clientY);
      if (!p.inside) return;
      self.points.push({ x: p.x, y: p.y });
      self.update();
      ev.preventDefault();
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      if (!drag.moved && Math.abs(ev.clientX - drag.x0) + Math.abs(ev.clientY - drag.y0) < 4) {
        return;
      }
      drag.moved = true;
      var p = self.chart.toData(ev.clientX, ev.clientY), o = self.chart.opts;
      self.points[drag.index] = {
        x: Math.min(Math.max(p.x, o.xDomain[0]), o.xDomain[1]),
        y: Math.min(Math.max(p.y, o.yDomain[0]), o.yDomain[1]),
      };
      self.update();
    });
    function end(ev) {
      if (!drag) return;
      if (!drag.moved && ev.type === "pointerup") {
        self.points.splice(drag.index, 1);
        self.update();
      }
      drag = null;
    }
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
  };

  // ------------------------------------------------------------------------------ page

  /** What a token explorer (live-tokens.js) takes from this page's wiring. */
  var PAGE = { base: BASE, hook: hook, fetchOk: fetchOk, h: h };

  function init() {
    var boxes = document.querySelectorAll(".bayeslens-live");
    var tokens = !!(L && L.sequence && L.tokens);
    var loaded = !!(L && L.exact && L.network && L.draw), explorers = [];
    Array.prototype.forEach.call(boxes, function (b) {
      var isTokens = b.getAttribute("data-kind") === "tokens";
      if (isTokens && !tokens) loaded = false;
      // in page order: each pushes its entry to the hook
      explorers.push(isTokens && tokens ? new L.tokens.Explorer(b, PAGE) : new Explorer(b));
    });
    if (!loaded) {
      explorers.forEach(function (e) { e._fail(new Error("its scripts did not load")); });
      return;
    }
    explorers.forEach(function (e) {
      if (!("IntersectionObserver" in window)) return e.start();
      var io = new IntersectionObserver(function (entries) {
        if (entries.some(function (en) { return en.isIntersecting; })) {
          io.disconnect();
          e.start();
        }
      }, { rootMargin: "800px 0px" });
      io.observe(e.box);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
