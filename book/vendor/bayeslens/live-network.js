// bayeslens live explorers, 3/5: the PFN's forward pass and its bar distribution (our code, MIT).
//
// Mirrors bayeslens/model.py and bayeslens/bar_distribution.py, reading the weights, config
// and borders that bayeslens/webexport.py wrote. Each context point (x, y) is one token
// enc_x(x) + enc_y(y), each query one token enc_x(x); in every encoder layer (PyTorch's
// TransformerEncoderLayer: post-LN by default, GELU with erf, no dropout) all tokens attend
// to keys and values of the context tokens only, and the last layer computes the queries
// only. The head (Linear-GELU-Linear, or one Linear) gives one logit per bucket.
(function (root) {
  "use strict";

  var M = root.BayeslensLive.math;
  var LN_EPS = 1e-5; // PyTorch's default layer_norm_eps
  var HALF_MASS_Z = 0.6744897501960817; // Phi^-1(0.75), as in bar_distribution.py
  var F32_EPS = 1.1920928955078125e-7; // torch.finfo(torch.float32).eps

  /** float16 bits -> number. */
  function halfToFloat(h) {
    var s = h & 0x8000 ? -1 : 1;
    var e = (h >> 10) & 0x1f;
    var f = h & 0x3ff;
    if (e === 0) return s * f * Math.pow(2, -24);
    if (e === 31) return f ? NaN : s * Infinity;
    return s * (1 + f / 1024) * Math.pow(2, e - 15);
  }

  /**
   * The model's tensors from weights.bin, as Float32Arrays by name.
   * @param {ArrayBuffer} buffer
   * @param {{dtype: string, tensors: {name: string, shape: number[], offset: number}[]}} index
   */
  function decodeWeights(buffer, index) {
    var out = {};
    var table = null;
    if (index.dtype === "float16") {
      table = new Float32Array(65536);
      for (var h = 0; h < 65536; h++) table[h] = halfToFloat(h);
    } else if (index.dtype !== "float32") {
      throw new Error("weights dtype must be float16 or float32, got " + index.dtype);
    }
    index.tensors.forEach(function (t) {
      var n = t.shape.reduce(function (a, b) { return a * b; }, 1);
      var arr;
      if (table) {
        var bits = new Uint16Array(buffer, t.offset, n);
        arr = new Float32Array(n);
        for (var i = 0; i < n; i++) arr[i] = table[bits[i]];
      } else {
        arr = new Float32Array(buffer.slice(t.offset, t.offset + 4 * n));
      }
      for (var k = 0; k < arr.length; k++) {
        if (!isFinite(arr[k])) throw new Error("weight " + t.name + " is not finite");
      }
      out[t.name] = arr;
    });
    return out;
  }

  /**
   * Y[r, o] = bias[o] + sum_i X[r, i] W[o, i] for rows r < R (W is PyTorch's (out, in)), in
   * plain JavaScript. Blocks of 4 rows x 2 outputs share their loads; flat row-major arrays.
   */
  function linearJs(X, xOff, R, D, W, bias, O, Y, yOff) {
    var r = 0;
    for (; r + 4 <= R; r += 4) {
      var x0 = xOff + r * D, x1 = x0 + D, x2 = x1 + D, x3 = x2 + D;
      var y0 = yOff + r * O, y1 = y0 + O, y2 = y1 + O, y3 = y2 + O;
      for (var o = 0; o < O; o += 2) {
        var w0 = o * D, w1 = w0 + D;
        var a00 = 0, a01 = 0, a10 = 0, a11 = 0, a20 = 0, a21 = 0, a30 = 0, a31 = 0;
        for (var i = 0; i < D; i++) {
          var u = W[w0 + i], v = W[w1 + i];
          var p = X[x0 + i], q = X[x1 + i], s = X[x2 + i], t = X[x3 + i];
          a00 += p * u; a01 += p * v; a10 += q * u; a11 += q * v;
          a20 += s * u; a21 += s * v; a30 += t * u; a31 += t * v;
        }
        var b0 = bias[o], b1 = bias[o + 1];
        Y[y0 + o] = a00 + b0; Y[y0 + o + 1] = a01 + b1;
        Y[y1 + o] = a10 + b0; Y[y1 + o + 1] = a11 + b1;
        Y[y2 + o] = a20 + b0; Y[y2 + o + 1] = a21 + b1;
        Y[y3 + o] = a30 + b0; Y[y3 + o + 1] = a31 + b1;
      }
    }
    for (; r < R; r++) {
      var xr = xOff + r * D, yr = yOff + r * O;
      for (var oo = 0; oo < O; oo++) {
        var wr = oo * D, acc = 0;
        for (var j = 0; j < D; j++) acc += X[xr + j] * W[wr + j];
        Y[yr + oo] = acc + bias[oo];
      }
    }
  }

  /**
   * Float32 buffers in one WebAssembly memory (when the SIMD kernel is available) or plain
   * ArrayBuffers, so that the kernel and JavaScript share the network's arrays.
   * @param {number} nFloats  capacity
   * @param {WebAssembly.Module|null} kernels  live-kernels.wasm, compiled
   */
  function Arena(nFloats, kernels) {
    this.used = 0;
    this.capacity = nFloats;
    this.memory = null;
    this.kernel = null;
    if (kernels) {
      var pages = Math.ceil((4 * nFloats + 65536) / 65536);
      this.memory = new WebAssembly.Memory({ initial: pages });
      var instance = new WebAssembly.Instance(kernels, { env: { memory: this.memory } });
      this.kernel = instance.exports.linear;
    }
  }

  /** A zeroed Float32Array of n floats (16-byte aligned inside the memory). */
  Arena.prototype.alloc = function (n) {
    if (!this.memory) return new Float32Array(n);
    var start = Math.ceil(this.used / 4) * 4;
    if (start + n > this.capacity) throw new Error("network arena too small");
    this.used = start + n;
    return new Float32Array(this.memory.buffer, 4 * start, n);
  };

  /** linear() on arrays of this arena: the SIMD kernel where available, else plain JS. */
  Arena.prototype.linear = function (X, xOff, R, D, W, bias, O, Y, yOff) {
    if (R === 0) return;
    if (this.kernel && D % 4 === 0 && O % 2 === 0) {
      this.kernel(X.byteOffset + 4 * xOff, R, D, W.byteOffset, bias.byteOffset, O,
        Y.byteOffset + 4 * yOff);
    } else {
      linearJs(X, xOff, R, D, W, bias, O, Y, yOff);
    }
  };

  /** In place: GELU with erf, x Phi(x). */
  function gelu(A, n) {
    for (var i = 0; i < n; i++) A[i] = A[i] * M.normCdf(A[i]);
  }

  /** In place over R rows of width D: LayerNorm (biased variance) with weight and bias. */
  function layerNorm(A, off, R, D, w, b) {
    for (var r = 0; r < R; r++) {
      var o = off + r * D, mean = 0, v = 0, i;
      for (i = 0; i < D; i++) mean += A[o + i];
      mean /= D;
      for (i = 0; i < D; i++) { var d = A[o + i] - mean; v += d * d; }
      var inv = 1 / Math.sqrt(v / D + LN_EPS);
      for (i = 0; i < D; i++) A[o + i] = (A[o + i] - mean) * inv * w[i] + b[i];
    }
  }

  /**
   * A PFN from its exported config, tensors and borders.
   * @param {object} config  PFNConfig as a dict (model_config)
   * @param {Object<string, Float32Array>} tensors  by state_dict name (decodeWeights)
   * @param {number[]} borders  the bar distribution's n_buckets + 1 borders
   * @param {WebAssembly.Module|null} kernels  live-kernels.wasm, or null for plain JS
   * @param {number} maxQuery  the most query points one call takes
   */
  function Network(config, tensors, borders, kernels, maxQuery) {
    if (config.n_classes !== 0) throw new Error("live explorers need a regression PFN");
    if (config.n_sink_tokens) throw new Error("live explorers do not run sink tokens yet");
    if ((config.n_features || 1) !== 1) {
      throw new Error("live explorers take one input feature, this model has " + config.n_features);
    }
    this.config = config;
    var D = config.d_model, nc = config.max_context, nq = maxQuery;
    var nt = nc + nq, wide = Math.max(3 * D, config.d_ff, config.head_hidden || 0);
    var total = 0, name;
    for (name in tensors) total += tensors[name].length + 4;
    total += 4 * nt * D + nt * wide + 2 * nc * D + nq * config.n_buckets + 64;
    var arena = new Arena(total, kernels);
    this.arena = arena;
    this.simd = !!arena.kernel;
    this.w = {};
    for (name in tensors) {
      this.w[name] = arena.alloc(tensors[name].length);
      this.w[name].set(tensors[name]);
    }
    this.maxQuery = nq;
    this.h = arena.alloc(nt * D); // tokens; in the last layer the queries only
    this.a = arena.alloc(nt * D); // attention block output, then the residual stream
    this.f = arena.alloc(nt * D); // feed-forward output; normed copies (pre-LN)
    this.o = arena.alloc(nt * D); // attention heads before out_proj
    this.wide = arena.alloc(nt * wide); // queries; feed-forward and head hidden units
    this.kv = arena.alloc(2 * nc * D);
    this.logitBuf = arena.alloc(nq * config.n_buckets);
    this.scores = new Float64Array(nc);
    var nb = config.n_buckets, bb = Float64Array.from(borders);
    this.borders = bb;
    var centres = new Float64Array(nb);
    for (var k = 0; k < nb; k++) centres[k] = (bb[k] + bb[k + 1]) / 2;
    // the outer buckets are half-normal tails with half their mass within the bucket's width
    this.sLeft = (bb[1] - bb[0]) / HALF_MASS_Z;
    this.sRight = (bb[nb] - bb[nb - 1]) / HALF_MASS_Z;
    var hnMean = Math.sqrt(2 / Math.PI);
    centres[0] = bb[1] - this.sLeft * hnMean;
    centres[nb - 1] = bb[nb - 1] + this.sRight * hnMean;
    this.centres = centres;
    // standardize_y: the y encoder sees (y - median) / (half the 16-84% range), read off
    // the borders as PFN._y_centre and PFN._y_scale do (float32, as the model)
    this.yCentre = 0;
    this.yScale = 1;
    if (config.standardize_y) {
      this.yCentre = Math.fround(borders[Math.floor(nb / 2)]);
      this.yScale = Math.fround(
        (Math.fround(borders[Math.round(0.84 * nb)]) - Math.fround(borders[Math.round(0.16 * nb)])) / 2);
    }
  }

  /**
   * Attention of Mrows tokens (rows of `src` from row `srcRow`) to the Nc context tokens
   * (the first rows of `src`): keys and values from the context only. The block's output
   * (after out_proj) goes to the first Mrows rows of `dst`.
   */
  Network.prototype._attention = function (l, src, srcRow, Mrows, Nc, dst) {
    var c = this.config, D = c.d_model, H = c.n_heads, hd = D / H, w = this.w;
    var ar = this.arena, p = "layers." + l + ".self_attn.";
    var Win = w[p + "in_proj_weight"], bIn = w[p + "in_proj_bias"];
    var q = this.wide, kv = this.kv, o = this.o, scores = this.scores;
    // queries: the first D rows of in_proj; keys and values: the next 2D, context only
    ar.linear(src, srcRow * D, Mrows, D, Win, bIn, D, q, 0);
    ar.linear(src, 0, Nc, D, Win.subarray(D * D), bIn.subarray(D), 2 * D, kv, 0);
    var scale = 1 / Math.sqrt(hd);
    for (var m = 0; m < Mrows; m++) {
      for (var hh = 0; hh < H; hh++) {
        var qo = m * D + hh * hd, mx = -Infinity, j, i;
        for (j = 0; j < Nc; j++) {
          var ko = j * 2 * D + hh * hd, s = 0;
          for (i = 0; i < hd; i++) s += q[qo + i] * kv[ko + i];
          s *= scale;
          scores[j] = s;
          if (s > mx) mx = s;
        }
        var tot = 0;
        for (j = 0; j < Nc; j++) { scores[j] = Math.exp(scores[j] - mx); tot += scores[j]; }
        for (i = 0; i < hd; i++) {
          var acc = 0, vo = D + hh * hd + i;
          for (j = 0; j < Nc; j++) acc += scores[j] * kv[j * 2 * D + vo];
          o[qo + i] = acc / tot;
        }
      }
    }
    ar.linear(o, 0, Mrows, D, w[p + "out_proj.weight"], w[p + "out_proj.bias"], D, dst, 0);
  };

  /** dst (Mrows x D) = linear2(gelu(linear1(src rows))). */
  Network.prototype._feedForward = function (l, src, Mrows, dst) {
    var c = this.config, D = c.d_model, w = this.w, p = "layers." + l + ".";
    var ar = this.arena;
    ar.linear(src, 0, Mrows, D, w[p + "linear1.weight"], w[p + "linear1.bias"], c.d_ff,
      this.wide, 0);
    gelu(this.wide, Mrows * c.d_ff);
    ar.linear(this.wide, 0, Mrows, c.d_ff, w[p + "linear2.weight"], w[p + "linear2.bias"], D,
      dst, 0);
  };

  /**
   * Logits for each query: Float32Array (n_query x n_buckets), a view valid until the next
   * call. Context: 1..max_context points.
   * @param {ArrayLike<number>} xc @param {ArrayLike<number>} yc @param {ArrayLike<number>} xq
   */
  Network.prototype.logits = function (xc, yc, xq) {
    var c = this.config, D = c.d_model, w = this.w, ar = this.arena;
    var Nc = xc.length, Nq = xq.length, N = Nc + Nq;
    if (Nc < 1 || Nc > c.max_context) {
      throw new RangeError("the network takes 1 to " + c.max_context + " context points");
    }
    if (Nq < 1 || Nq > this.maxQuery) throw new RangeError("1 to " + this.maxQuery + " queries");
    var h = this.h, a = this.a, f = this.f, i, d;
    var wx = w["encoder_x.weight"], bx = w["encoder_x.bias"];
    var wy = w["encoder_y.weight"], by = w["encoder_y.bias"];
    for (i = 0; i < N; i++) {
      var x = Math.fround(i < Nc ? xc[i] : xq[i - Nc]);
      for (d = 0; d < D; d++) h[i * D + d] = Math.fround(x * wx[d] + bx[d]);
      if (i < Nc) {
        var y = Math.fround(Math.fround(Math.fround(yc[i]) - this.yCentre) / this.yScale);
        for (d = 0; d < D; d++) h[i * D + d] += Math.fround(y * wy[d] + by[d]);
      }
    }
    for (var l = 0; l < c.n_layers; l++) {
      var last = l === c.n_layers - 1;
      var row = last ? Nc : 0, Mrows = last ? Nq : N; // last layer: the queries only
      var off = row * D, n = Mrows * D, p = "layers." + l + ".";
      if (c.norm_first) {
        f.set(h.subarray(0, N * D));
        layerNorm(f, 0, N, D, w[p + "norm1.weight"], w[p + "norm1.bias"]);
        this._attention(l, f, row, Mrows, Nc, a);
        for (i = 0; i < n; i++) h[i] = h[off + i] + a[i];
        f.set(h.subarray(0, n));
        layerNorm(f, 0, Mrows, D, w[p + "norm2.weight"], w[p + "norm2.bias"]);
        this._feedForward(l, f, Mrows, a);
        for (i = 0; i < n; i++) h[i] += a[i];
      } else {
        this._attention(l, h, row, Mrows, Nc, a);
        for (i = 0; i < n; i++) a[i] += h[off + i];
        layerNorm(a, 0, Mrows, D, w[p + "norm1.weight"], w[p + "norm1.bias"]);
        this._feedForward(l, a, Mrows, f);
        for (i = 0; i < n; i++) h[i] = a[i] + f[i];
        layerNorm(h, 0, Mrows, D, w[p + "norm2.weight"], w[p + "norm2.bias"]);
      }
    }
    // h now holds the Nq query rows
    if (c.norm_first) layerNorm(h, 0, Nq, D, w["final_norm.weight"], w["final_norm.bias"]);
    var nb = c.n_buckets, logits = this.logitBuf;
    if (c.head_hidden) {
      var hid = this.wide;
      ar.linear(h, 0, Nq, D, w["head.0.weight"], w["head.0.bias"], c.head_hidden, hid, 0);
      gelu(hid, Nq * c.head_hidden);
      ar.linear(hid, 0, Nq, c.head_hidden, w["head.2.weight"], w["head.2.bias"], nb, logits, 0);
    } else {
      ar.linear(h, 0, Nq, D, w["head.weight"], w["head.bias"], nb, logits, 0);
    }
    return logits.subarray(0, Nq * nb);
  };

  /**
   * Mean and quantiles of the bar distribution for each query, as bar_distribution.py
   * defines them (softmax over buckets, flat interior buckets, half-normal outer buckets).
   * @param {Float32Array} logits  (n_query x n_buckets)
   * @param {number[]} levels  each in (0, 1)
   * @returns {{mean: Float64Array, quantiles: Float64Array[]}}  one array per level
   */
  Network.prototype.summaries = function (logits, levels) {
    var nb = this.config.n_buckets, Nq = logits.length / nb, b = this.borders;
    var mean = new Float64Array(Nq);
    var qs = levels.map(function () { return new Float64Array(Nq); });
    var p = new Float64Array(nb), cum = new Float64Array(nb);
    var sq2 = Math.SQRT2;
    for (var r = 0; r < Nq; r++) {
      var o = r * nb, mx = -Infinity, k;
      for (k = 0; k < nb; k++) if (logits[o + k] > mx) mx = logits[o + k];
      var tot = 0;
      for (k = 0; k < nb; k++) { p[k] = Math.exp(logits[o + k] - mx); tot += p[k]; }
      var m = 0, run = 0;
      for (k = 0; k < nb; k++) {
        p[k] /= tot;
        m += p[k] * this.centres[k];
        run += p[k];
        cum[k] = run;
      }
      mean[r] = m;
      for (var li = 0; li < levels.length; li++) {
        var q = levels[li];
        var idx = Math.min(M.searchSorted(cum, q, false), nb - 1); // first cum >= q
        var below = cum[idx] - p[idx];
        var frac = Math.min(Math.max((q - below) / Math.max(p[idx], 1e-38), 0), 1);
        var y = b[idx] + frac * (b[idx + 1] - b[idx]);
        if (idx === 0) {
          y = b[1] - this.sLeft * sq2 * M.erfinv(Math.min(Math.max(1 - frac, 0), 1 - F32_EPS));
        } else if (idx === nb - 1) {
          y = b[nb - 1] + this.sRight * sq2 * M.erfinv(Math.min(frac, 1 - F32_EPS));
        }
        qs[li][r] = y;
      }
    }
    return { mean: mean, quantiles: qs };
  };

  var ns = (root.BayeslensLive = root.BayeslensLive || {});
  // decodeWeights, linearJs, gelu and layerNorm also serve the sequence model
  // (live-sequence.js)
  ns.network = {
    Network: Network, decodeWeights: decodeWeights, linearJs: linearJs, gelu: gelu,
    layerNorm: layerNorm, LN_EPS: LN_EPS,
  };
})(typeof self !== "undefined" ? self : globalThis);
