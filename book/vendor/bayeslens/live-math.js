// bayeslens live explorers, 1/5: numerical helpers (our code, MIT).
//
// The normal CDF to ~1e-15 (the exact PPD's quantiles are compared with Python's to 1e-6,
// and the network's GELU uses it too), its inverse, log-sum-exp, sorted search. Plain
// functions over numbers and typed arrays; nothing here knows about priors, networks or pages.
(function (root) {
  "use strict";

  var SQRT2 = Math.SQRT2;
  var INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
  var INV_SQRT_PI = 1 / Math.sqrt(Math.PI);

  /**
   * erfc(x) for x >= 0, accurate to ~1e-16 absolute; slow (used to build the table only).
   * Below 2.5: 1 - erf(x) with erf's all-positive series
   *   erf(x) = 2/sqrt(pi) exp(-x^2) sum_n x (2x^2)^n / (1 * 3 * ... * (2n + 1)).
   * From 2.5: the continued fraction erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x +
   * (3/2)/(x + ...)))), evaluated bottom-up from depth 120.
   * @param {number} x
   * @returns {number}
   */
  function erfcSlow(x) {
    if (x < 2.5) {
      var term = x;
      var sum = x;
      for (var n = 1; n < 200; n++) {
        term *= (2 * x * x) / (2 * n + 1);
        sum += term;
        if (term < 1e-18 * sum) break;
      }
      return 1 - 2 * INV_SQRT_PI * Math.exp(-x * x) * sum;
    }
    var t = x;
    for (var k = 120; k >= 1; k--) t = x + k / 2 / t;
    return (INV_SQRT_PI * Math.exp(-x * x)) / t;
  }

  /** Phi(z), the standard normal CDF, the slow way. */
  function normCdfSlow(z) {
    return z < 0 ? 0.5 * erfcSlow(-z / SQRT2) : 1 - 0.5 * erfcSlow(z / SQRT2);
  }

  // Phi on [-Z_MAX, Z_MAX] as one quintic Hermite piece per interval of width 1/PER_UNIT
  // (value, first derivative pdf(z), second derivative -z pdf(z) matched at both ends):
  // interpolation error below 1e-15. Outside, Phi is 0 or 1 to within 1.2e-19.
  var Z_MAX = 9;
  var PER_UNIT = 64;
  var N_PIECES = 2 * Z_MAX * PER_UNIT;
  var COEF = new Float64Array(6 * N_PIECES);
  (function buildTable() {
    var h = 1 / PER_UNIT;
    var prev = null;
    for (var i = 0; i <= N_PIECES; i++) {
      var z = -Z_MAX + i * h;
      var pdf = INV_SQRT_2PI * Math.exp(-0.5 * z * z);
      var node = [normCdfSlow(z), h * pdf, -h * h * z * pdf];
      if (prev) {
        // p(t) = sum_k c_k t^k on t in [0, 1] with p, p', p'' given at t = 0 and t = 1
        var p0 = prev[0], m0 = prev[1], a0 = prev[2];
        var p1 = node[0], m1 = node[1], a1 = node[2];
        var d = p1 - p0 - m0 - a0 / 2;
        var e = m1 - m0 - a0;
        var f = a1 - a0;
        var o = 6 * (i - 1);
        COEF[o] = p0;
        COEF[o + 1] = m0;
        COEF[o + 2] = a0 / 2;
        COEF[o + 3] = 10 * d - 4 * e + f / 2;
        COEF[o + 4] = -15 * d + 7 * e - f;
        COEF[o + 5] = 6 * d - 3 * e + f / 2;
      }
      prev = node;
    }
  })();

  /**
   * Phi(z), the standard normal CDF (table + quintic Hermite; absolute error < 1e-15).
   * @param {number} z
   * @returns {number}
   */
  function normCdf(z) {
    if (!(z > -Z_MAX)) return z !== z ? NaN : 0;
    if (z >= Z_MAX) return 1;
    var s = (z + Z_MAX) * PER_UNIT;
    var i = Math.floor(s);
    if (i >= N_PIECES) i = N_PIECES - 1;
    var t = s - i;
    var o = 6 * i;
    return COEF[o] + t * (COEF[o + 1] + t * (COEF[o + 2] + t * (COEF[o + 3] +
      t * (COEF[o + 4] + t * COEF[o + 5]))));
  }

  /**
   * normCdf(z) into out[0] and its interpolant's derivative, the normal density to ~1e-10,
   * into out[1], from one table lookup (for Newton steps on a mixture's CDF: no exp).
   * @param {number} z
   * @param {Float64Array} out
   */
  function normCdfSlope(z, out) {
    if (!(z > -Z_MAX) || z >= Z_MAX) {
      out[0] = z >= Z_MAX ? 1 : z !== z ? NaN : 0;
      out[1] = 0;
      return;
    }
    var s = (z + Z_MAX) * PER_UNIT;
    var i = Math.floor(s);
    if (i >= N_PIECES) i = N_PIECES - 1;
    var t = s - i;
    var o = 6 * i;
    var c1 = COEF[o + 1], c2 = COEF[o + 2], c3 = COEF[o + 3], c4 = COEF[o + 4], c5 = COEF[o + 5];
    out[0] = COEF[o] + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * c5))));
    out[1] = PER_UNIT * (c1 + t * (2 * c2 + t * (3 * c3 + t * (4 * c4 + t * 5 * c5))));
  }

  /** The standard normal density. */
  function normPdf(z) {
    return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
  }

  /** erf(x) = 2 Phi(x sqrt 2) - 1. */
  function erf(x) {
    return 2 * normCdf(x * SQRT2) - 1;
  }

  /**
   * Phi^-1(q) for q in (0, 1): bisection to a bracket, then Newton on Phi (to ~1e-14).
   * @param {number} q
   * @returns {number}
   */
  function normInv(q) {
    if (!(q > 0 && q < 1)) throw new RangeError("normInv needs 0 < q < 1, got " + q);
    var lo = -Z_MAX, hi = Z_MAX;
    var upper = q > 0.5;
    var target = upper ? 1 - q : q; // solve in the lower tail, where Phi is accurate
    var z = 0;
    for (var it = 0; it < 200; it++) {
      z = 0.5 * (lo + hi);
      var pdf = normPdf(z);
      var err = normCdf(z) - target;
      if (err < 0) lo = z; else hi = z;
      var step = z - err / Math.max(pdf, 1e-300);
      if (step > lo && step < hi) {
        z = step;
        var err2 = normCdf(z) - target;
        if (err2 < 0) lo = z; else hi = z;
        if (Math.abs(err2) <= 1e-16 * Math.max(target, 1e-300) || hi - lo < 1e-15) break;
      }
      if (hi - lo < 1e-15) break;
    }
    return upper ? -z : z;
  }

  /** erfinv(p) for p in (-1, 1). */
  function erfinv(p) {
    if (p === 0) return 0;
    return normInv((p + 1) / 2) / SQRT2;
  }

  /** log(sum(exp(v))) of an array, stable; -Infinity for an empty or all -Infinity array. */
  function logSumExp(v) {
    var m = -Infinity;
    for (var i = 0; i < v.length; i++) if (v[i] > m) m = v[i];
    if (m === -Infinity) return -Infinity;
    var s = 0;
    for (var j = 0; j < v.length; j++) s += Math.exp(v[j] - m);
    return m + Math.log(s);
  }

  /**
   * Number of entries of the ascending array `a` below `v` (right = false) or at most `v`
   * (right = true): torch.searchsorted's convention.
   */
  function searchSorted(a, v, right) {
    var lo = 0, hi = a.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (right ? a[mid] <= v : a[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** n evenly spaced values from lo to hi (n >= 1), as a Float64Array. */
  function linspace(lo, hi, n) {
    var out = new Float64Array(n);
    if (n === 1) { out[0] = lo; return out; }
    var step = (hi - lo) / (n - 1);
    for (var i = 0; i < n; i++) out[i] = i < n / 2 ? lo + i * step : hi - (n - 1 - i) * step;
    return out;
  }

  /**
   * A seeded generator: uniform() in [0, 1) by xorshift32 (Marsaglia's shifts 13, 17, 5)
   * and normal() from two uniforms (Box-Muller). Deterministic for a given seed.
   */
  function rng(seed) {
    var s = (seed >>> 0) || 1;
    function uniform() {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s / 4294967296;
    }
    function normal() {
      var u = 1 - uniform();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
    }
    return { uniform: uniform, normal: normal };
  }

  var ns = (root.BayeslensLive = root.BayeslensLive || {});
  ns.math = {
    erfcSlow: erfcSlow,
    normCdfSlow: normCdfSlow,
    normCdf: normCdf,
    normPdf: normPdf,
    normCdfSlope: normCdfSlope,
    erf: erf,
    erfinv: erfinv,
    normInv: normInv,
    logSumExp: logSumExp,
    searchSorted: searchSorted,
    linspace: linspace,
    rng: rng,
  };
})(typeof self !== "undefined" ? self : globalThis);
