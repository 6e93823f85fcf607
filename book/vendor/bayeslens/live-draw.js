// bayeslens live explorers, 4/5: drawing, in SVG plus one canvas for the density (our code, MIT).
//
// The book's colours (bayeslens/plots.py): the exact PPD blue, as a filled band and a solid
// line (its density as shading), the network orange, as an outlined band and a dashed line,
// the context black. A chart only draws what it is given; it computes nothing. The token
// explorers' next-token bars: exact filled blue, the network outlined and hatched orange; the
// tokens in the colours of bayeslens.plots.TOKEN_COLORS.
(function (root) {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var EXACT = "#1f77b4";
  var NETWORK = "#ff7f0e";
  var TOKEN_COLORS = ["#6a3d9a", "#1b7837", "#8c510a"]; // bayeslens.plots.TOKEN_COLORS

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function fmt(v) {
    var s = (Math.round(v * 100) / 100).toString();
    return s === "-0" ? "0" : s;
  }

  /** Axis ticks: round values with a step of 0.1, 0.2, 0.25, 0.5 or 1 times a power of 10. */
  function ticks(lo, hi, n) {
    var raw = (hi - lo) / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * p; })
      .filter(function (s) { return s >= raw; })[0];
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
    return out;
  }

  /**
   * The main chart: PPD and network over x, the context points on top.
   * @param {HTMLElement} parent
   * @param {{xDomain: number[], yDomain: number[], xRange: number[], width: number,
   *          height: number}} opts  xRange: the prior's x range (outside it is shaded)
   */
  function Chart(parent, opts) {
    var W = opts.width, H = opts.height, mg = { l: 46, r: 12, t: 28, b: 34 };
    this.opts = opts;
    this.mg = mg;
    this.pw = W - mg.l - mg.r;
    this.ph = H - mg.t - mg.b;
    var wrap = document.createElement("div");
    wrap.className = "bayeslens-live-chart";
    parent.appendChild(wrap);
    this.canvas = document.createElement("canvas");
    this.canvas.className = "bayeslens-live-density";
    this.canvas.width = 0;
    this.canvas.height = 0;
    wrap.appendChild(this.canvas);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img" }, wrap);
    this.svg = svg;
    var self = this;
    this.sx = function (x) {
      var d = opts.xDomain;
      return mg.l + ((x - d[0]) / (d[1] - d[0])) * self.pw;
    };
    this.sy = function (y) {
      var d = opts.yDomain;
      return mg.t + (1 - (y - d[0]) / (d[1] - d[0])) * self.ph;
    };
    this._axes();
    // curves stay inside the plot area (a band may reach far beyond the y range)
    var id = "bayeslens-live-clip-" + (++Chart.count);
    var clip = el("clipPath", { id: id }, el("defs", {}, svg));
    el("rect", { x: mg.l, y: mg.t, width: this.pw, height: this.ph }, clip);
    this.gExact = el("g", { class: "exact", "clip-path": "url(#" + id + ")" }, svg);
    this.gNet = el("g", { class: "network", "clip-path": "url(#" + id + ")" }, svg);
    this.gPoints = el("g", { class: "points" }, svg);
    this._legend();
  }

  Chart.count = 0;

  Chart.prototype._axes = function () {
    var o = this.opts, svg = this.svg, sx = this.sx, sy = this.sy, mg = this.mg;
    el("rect", { x: mg.l, y: mg.t, width: this.pw, height: this.ph, class: "plot-bg" }, svg);
    // outside the prior's x range: p(x) = 0, the exact posterior is undefined there
    [[o.xDomain[0], o.xRange[0]], [o.xRange[1], o.xDomain[1]]].forEach(function (r) {
      if (r[1] <= r[0]) return;
      el("rect", {
        x: sx(r[0]), y: mg.t, width: sx(r[1]) - sx(r[0]), height: sy(o.yDomain[0]) - mg.t,
        class: "outside",
      }, svg);
    });
    var g = el("g", { class: "axes" }, svg);
    ticks(o.xDomain[0], o.xDomain[1], 6).forEach(function (v) {
      el("line", { x1: sx(v), x2: sx(v), y1: sy(o.yDomain[0]), y2: sy(o.yDomain[0]) + 4 }, g);
      el("text", { x: sx(v), y: sy(o.yDomain[0]) + 16, "text-anchor": "middle" }, g)
        .textContent = fmt(v);
    });
    ticks(o.yDomain[0], o.yDomain[1], 5).forEach(function (v) {
      el("line", { x1: mg.l - 4, x2: mg.l, y1: sy(v), y2: sy(v) }, g);
      el("line", { x1: mg.l, x2: mg.l + this.pw, y1: sy(v), y2: sy(v), class: "grid" }, g);
      el("text", { x: mg.l - 7, y: sy(v) + 4, "text-anchor": "end" }, g).textContent = fmt(v);
    }, this);
    el("text", { x: mg.l + this.pw / 2, y: sy(o.yDomain[0]) + 30, "text-anchor": "middle" }, g)
      .textContent = "x";
    el("text", { x: 12, y: mg.t + this.ph / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (mg.t + this.ph / 2) + ")" }, g).textContent = "y";
  };

  /** One row above the plot area (never over the data): exact, then network. */
  Chart.prototype._legend = function () {
    var g = el("g", { class: "legend" }, this.svg), x = this.mg.l, y = 6;
    el("rect", { x: x, y: y + 1, width: 22, height: 12, fill: EXACT, "fill-opacity": 0.25 }, g);
    el("line", { x1: x, x2: x + 22, y1: y + 7, y2: y + 7, stroke: EXACT, "stroke-width": 2 }, g);
    el("text", { x: x + 28, y: y + 11 }, g).textContent = "exact PPD, mean and 95%";
    x += 240;
    [y + 1, y + 13].forEach(function (yy) {
      el("line", { x1: x, x2: x + 22, y1: yy, y2: yy, stroke: NETWORK,
        "stroke-dasharray": "3 3" }, g);
    });
    el("line", { x1: x, x2: x + 22, y1: y + 7, y2: y + 7, stroke: NETWORK,
      "stroke-width": 2, "stroke-dasharray": "5 3" }, g);
    el("text", { x: x + 28, y: y + 11 }, g).textContent = "network, mean and 95%";
  };

  function path(xs, ys, sx, sy) {
    var d = "";
    for (var i = 0; i < xs.length; i++) d += (i ? "L" : "M") + sx(xs[i]).toFixed(1) + "," +
      sy(ys[i]).toFixed(1);
    return d;
  }

  function bandPath(xs, lo, hi, sx, sy) {
    var d = path(xs, hi, sx, sy);
    for (var i = xs.length - 1; i >= 0; i--) d += "L" + sx(xs[i]).toFixed(1) + "," +
      sy(lo[i]).toFixed(1);
    return d + "Z";
  }

  function clear(g) {
    while (g.firstChild) g.removeChild(g.firstChild);
  }

  /**
   * Draw the exact side (or clear it with null): {x, mean, lower, upper, density?, yGrid?}.
   */
  Chart.prototype.drawExact = function (s) {
    clear(this.gExact);
    var ctx = this.canvas.getContext("2d");
    if (!s) {
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      return;
    }
    if (s.density) this._density(s.x, s.yGrid, s.density);
    el("path", { d: bandPath(s.x, s.lower, s.upper, this.sx, this.sy), fill: EXACT,
      "fill-opacity": 0.2, stroke: "none" }, this.gExact);
    el("path", { d: path(s.x, s.mean, this.sx, this.sy), fill: "none", stroke: EXACT,
      "stroke-width": 2.2 }, this.gExact);
  };

  /**
   * The density as shading: one canvas pixel per (query, y grid) cell, stretched by CSS over
   * the cells' extent (the browser interpolates between them).
   */
  Chart.prototype._density = function (xq, yGrid, dens) {
    var nq = xq.length, ny = yGrid.length, cv = this.canvas;
    if (cv.width !== nq || cv.height !== ny) {
      cv.width = nq;
      cv.height = ny;
      var dx = (xq[nq - 1] - xq[0]) / (nq - 1), dy = (yGrid[ny - 1] - yGrid[0]) / (ny - 1);
      var W = this.opts.width, H = this.opts.height;
      var left = this.sx(xq[0] - dx / 2), right = this.sx(xq[nq - 1] + dx / 2);
      var top = this.sy(yGrid[ny - 1] + dy / 2), bottom = this.sy(yGrid[0] - dy / 2);
      var cs = cv.style;
      cs.left = (100 * left) / W + "%";
      cs.width = (100 * (right - left)) / W + "%";
      cs.top = (100 * top) / H + "%";
      cs.height = (100 * (bottom - top)) / H + "%";
    }
    var ctx = cv.getContext("2d"), img = ctx.createImageData(nq, ny), px = img.data;
    var peak = 1 / (0.1 * Math.sqrt(2 * Math.PI));
    for (var q = 0; q < nq; q++) {
      for (var j = 0; j < ny; j++) {
        var v = dens[q * ny + j] / peak;
        var a = Math.min(1, Math.sqrt(Math.max(v, 0))) * 0.55;
        var p = 4 * ((ny - 1 - j) * nq + q); // row 0 is the top: the largest y
        px[p] = 31; px[p + 1] = 119; px[p + 2] = 180; px[p + 3] = Math.round(255 * a);
      }
    }
    ctx.putImageData(img, 0, 0);
  };

  /** Draw the network's side (or clear it with null): {x, mean, lower, upper}. */
  Chart.prototype.drawNetwork = function (s) {
    clear(this.gNet);
    if (!s) return;
    [s.lower, s.upper].forEach(function (edge) {
      el("path", { d: path(s.x, edge, this.sx, this.sy), fill: "none", stroke: NETWORK,
        "stroke-width": 1.3, "stroke-dasharray": "3 3" }, this.gNet);
    }, this);
    el("path", { d: path(s.x, s.mean, this.sx, this.sy), fill: "none", stroke: NETWORK,
      "stroke-width": 2.2, "stroke-dasharray": "7 4" }, this.gNet);
  };

  /** Context points; `outside(x)` marks those outside the prior's x range (hollow). */
  Chart.prototype.drawPoints = function (points, outside) {
    clear(this.gPoints);
    for (var i = 0; i < points.length; i++) {
      var p = points[i], cx = this.sx(p.x), cy = this.sy(p.y);
      var g = el("g", { class: "point" + (outside(p.x) ? " outside-point" : ""),
        "data-index": i }, this.gPoints);
      el("circle", { cx: cx, cy: cy, r: 10, class: "hit" }, g);
      el("circle", { cx: cx, cy: cy, r: 4.5, class: "dot" }, g);
    }
  };

  /** Client (mouse) coordinates -> data coordinates. */
  Chart.prototype.toData = function (clientX, clientY) {
    var pt = this.svg.createSVGPoint();
    pt.x = clientX;
    pt.y = clientY;
    var p = pt.matrixTransform(this.svg.getScreenCTM().inverse());
    var o = this.opts;
    return {
      x: o.xDomain[0] + ((p.x - this.mg.l) / this.pw) * (o.xDomain[1] - o.xDomain[0]),
      y: o.yDomain[0] + (1 - (p.y - this.mg.t) / this.ph) * (o.yDomain[1] - o.yDomain[0]),
      inside: p.x >= this.mg.l && p.x <= this.mg.l + this.pw && p.y >= this.mg.t &&
        p.y <= this.mg.t + this.ph,
    };
  };

  /** Data coordinates -> client coordinates (for tests and keyboard help). */
  Chart.prototype.toClient = function (x, y) {
    var pt = this.svg.createSVGPoint();
    pt.x = this.sx(x);
    pt.y = this.sy(y);
    var p = pt.matrixTransform(this.svg.getScreenCTM());
    return { x: p.x, y: p.y };
  };

  /**
   * A bar panel for the posterior over latents: {label, values, probs, onX}; numeric values
   * on an axis of their own range, or (onX: a position on x, as the change point c) aligned
   * with the chart's x axis; names as labelled bars (family masses).
   */
  function Bars(parent, width, height) {
    var wrap = document.createElement("div");
    wrap.className = "bayeslens-live-latents";
    parent.appendChild(wrap);
    this.W = width;
    this.H = height;
    this.svg = el("svg", { viewBox: "0 0 " + width + " " + height, role: "img" }, wrap);
    this.g = el("g", {}, this.svg);
  }

  Bars.prototype.draw = function (lat, xDomain) {
    clear(this.g);
    if (!lat) return;
    var W = this.W, H = this.H, l = 46, r = 12, t = 18, g = this.g, n = lat.probs.length;
    var numeric = typeof lat.values[0] === "number";
    // named bars closer than ~9 characters: the value under the name, on a second line
    var twoLines = !numeric && (W - l - r) / n < 64, b = twoLines ? 34 : 22;
    var pw = W - l - r, ph = H - t - b, top = 0, i;
    for (i = 0; i < n; i++) top = Math.max(top, lat.probs[i]);
    top = top > 0 ? top : 1;
    var domain = numeric && !lat.onX ? [lat.values[0], lat.values[n - 1]] :
      xDomain || [0, 1];
    if (!(domain[1] > domain[0])) domain = [domain[0] - 0.5, domain[0] + 0.5];
    var sx = numeric
      ? function (v) { return l + ((v - domain[0]) / (domain[1] - domain[0])) * pw; }
      : function (k) { return l + ((k + 0.5) / n) * pw; };
    var bw = numeric ? Math.max(1, (0.8 * (sx(lat.values[n - 1]) - sx(lat.values[0]))) /
      Math.max(n - 1, 1)) : (0.6 * pw) / n;
    for (i = 0; i < n; i++) {
      var x = numeric ? sx(lat.values[i]) : sx(i), hgt = (lat.probs[i] / top) * ph;
      el("rect", { x: x - bw / 2, y: t + ph - hgt, width: bw, height: hgt, fill: EXACT }, g);
      if (!numeric) {
        var pct = (100 * lat.probs[i]).toFixed(twoLines ? 0 : 1) + "%";
        el("text", { x: x, y: t + ph + 15, "text-anchor": "middle" }, g).textContent =
          twoLines ? lat.values[i] : lat.values[i] + " " + pct;
        if (twoLines) {
          el("text", { x: x, y: t + ph + 29, "text-anchor": "middle" }, g).textContent = pct;
        }
      }
    }
    el("line", { x1: l, x2: l + pw, y1: t + ph, y2: t + ph, class: "axis" }, g);
    if (numeric) {
      ticks(domain[0], domain[1], 6).forEach(function (v) {
        el("text", { x: sx(v), y: t + ph + 15, "text-anchor": "middle" }, g).textContent = fmt(v);
      });
    }
    var what = "p(" + lat.label + " | " + (lat.given || "D") + ")";
    el("text", { x: l, y: 12 }, g).textContent = W < 520
      ? what + ", tallest " + (100 * top).toFixed(1) + "%"
      : "exact posterior " + what + " (tallest bar: " + (100 * top).toFixed(1) + "%)";
  };

  /** The colour of token v. */
  function tokenColor(v) {
    return TOKEN_COLORS[v % TOKEN_COLORS.length];
  }

  /**
   * The next token's distribution: one pair of bars per token, exact (filled) and network
   * (outlined, hatched), each labelled with its probability; a legend row above.
   * @param {HTMLElement} parent @param {number} width @param {number} height
   */
  function NextTokenBars(parent, width, height) {
    var wrap = document.createElement("div");
    wrap.className = "bayeslens-live-next";
    parent.appendChild(wrap);
    this.W = width;
    this.H = height;
    this.narrow = width < 520; // a phone: the KL gets a row of its own
    this.mg = { l: 58, r: 12, t: this.narrow ? 70 : 54, b: 30 };
    this.svg = el("svg", { viewBox: "0 0 " + width + " " + height, role: "img" }, wrap);
    this.svg.setAttribute("aria-label", "next-token distributions, exact and network");
    var id = "bayeslens-live-hatch-" + (++NextTokenBars.count);
    var pat = el("pattern", { id: id, patternUnits: "userSpaceOnUse", width: 6, height: 6,
      patternTransform: "rotate(45)" }, el("defs", {}, this.svg));
    el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: NETWORK, "stroke-width": 2 }, pat);
    this.hatch = "url(#" + id + ")";
    this._legend();
    this.g = el("g", {}, this.svg);
  }

  NextTokenBars.count = 0;

  NextTokenBars.prototype._legend = function () {
    var g = el("g", { class: "legend" }, this.svg), x = this.mg.l, y = 4;
    el("rect", { x: x, y: y + 1, width: 18, height: 12, fill: EXACT }, g);
    el("text", { x: x + 24, y: y + 11 }, g).textContent = "exact predictive";
    x += 150;
    el("rect", { x: x + 1, y: y + 2, width: 16, height: 10, fill: this.hatch, stroke: NETWORK,
      "stroke-width": 2 }, g);
    el("text", { x: x + 24, y: y + 11 }, g).textContent = "network";
    this.klText = this.narrow ? el("text", { x: this.mg.l, y: y + 30, class: "kl" }, g)
      : el("text", { x: this.W - this.mg.r, y: y + 11, "text-anchor": "end", class: "kl" }, g);
    this.title = el("text", { x: this.mg.l, y: y + (this.narrow ? 48 : 30), class: "subtitle" },
      g);
  };

  /**
   * Draw (null clears a side): exact and network probabilities (V each), their KL (nats) and
   * a title (e.g. "token 13, after 12").
   */
  NextTokenBars.prototype.draw = function (exact, network, kl, title) {
    clear(this.g);
    var g = this.g, mg = this.mg, pw = this.W - mg.l - mg.r, ph = this.H - mg.t - mg.b;
    var V = (exact || network || []).length, i, v;
    var sy = function (p) { return mg.t + (1 - p) * ph; };
    [0, 0.25, 0.5, 0.75, 1].forEach(function (p) {
      el("line", { x1: mg.l, x2: mg.l + pw, y1: sy(p), y2: sy(p), class: p ? "grid" : "axis" },
        g);
      el("text", { x: mg.l - 7, y: sy(p) + 4, "text-anchor": "end" }, g).textContent = fmt(p);
    });
    el("text", { x: 14, y: mg.t + ph / 2, "text-anchor": "middle",
      transform: "rotate(-90 14 " + (mg.t + ph / 2) + ")" }, g).textContent = "p(next token)";
    var group = pw / Math.max(V, 1), bw = 0.3 * group;
    var sides = [[exact, -1], [network, 1]];
    for (v = 0; v < V; v++) {
      var cx = mg.l + (v + 0.5) * group;
      for (i = 0; i < 2; i++) {
        var p = sides[i][0];
        if (!p) continue;
        var x = cx + (sides[i][1] > 0 ? 3 : -bw - 3), top = sy(p[v]);
        var attrs = i === 0 ? { fill: EXACT } :
          { fill: this.hatch, stroke: NETWORK, "stroke-width": 2 };
        attrs.x = x; attrs.y = top; attrs.width = bw; attrs.height = sy(0) - top;
        attrs.class = i === 0 ? "bar-exact" : "bar-network";
        el("rect", attrs, g);
        el("text", { x: x + bw / 2, y: top - 4, "text-anchor": "middle", class: "value",
          style: this.narrow ? "font-size: 10.5px" : "" }, g).textContent = p[v].toFixed(3);
      }
      // a style, not an attribute: the stylesheet's text fill would win over an attribute
      el("text", { x: cx, y: sy(0) + 18, "text-anchor": "middle", class: "token-label",
        style: "fill: " + tokenColor(v) + "; font-weight: 700" }, g).textContent = "token " + v;
    }
    this.klText.textContent = kl === null || kl === undefined ? "" :
      "KL(exact || network) = " + (kl < 1e-3 ? kl.toExponential(1) : kl.toFixed(4)) + " nats";
    this.title.textContent = title || "";
  };

  var ns = (root.BayeslensLive = root.BayeslensLive || {});
  ns.draw = {
    Chart: Chart, Bars: Bars, NextTokenBars: NextTokenBars, tokenColor: tokenColor,
    EXACT: EXACT, NETWORK: NETWORK,
  };
})(typeof self !== "undefined" ? self : globalThis);
