// bayeslens live explorers, 2/5: the exact posterior and its PPD (our code, MIT).
//
// Mirrors bayeslens/posterior.py on the priors bayeslens/webexport.py wrote (float64, log
// space). A fit returns the PPD at the query points as a mixture of Gaussian atoms
// N(mu_k, sigma^2) with masses per query, and what the latent panel shows.
//   steps  m = b + a 1[x > c]: per change point c, the log-likelihood splits into a part in b
//          (points with x <= c) and one in u = b + a (points right of c), each fixed by three
//          sums; the sums over (b, a) run over the pairs' indices into the distinct u.
//   sines and lines  m = theta . (1, x, sin f x, cos f x): a 4x4 Gram matrix per frequency.
//   mixture  a weighted union of families: evidences weigh the families.
(function (root) {
  "use strict";

  var M = root.BayeslensLive.math;
  var LOG_2PI = Math.log(2 * Math.PI);
  var PRUNE_LOG_WEIGHT = -60; // as posterior.py: latents below max - 60 carry < 1e-26 each
  var TAIL_MASS = 1e-12;
  var CDF_SLOPE = new Float64Array(2); // scratch of cdfPdf

  function gaussConst(n, sigma) {
    return -0.5 * n * (LOG_2PI + 2 * Math.log(sigma));
  }

  // ------------------------------------------------------------------------------ steps

  /** Per-prior constants of a step prior (computed once): probabilities of a. */
  function stepTables(prior) {
    if (!prior._pa) prior._pa = Float64Array.from(prior.a.log_weights, Math.exp);
    return prior._pa;
  }

  /**
   * For change points j: left[j, i] (over b) and right[j, k] (over u) conditional masses,
   * and log p(D, c_j). Grouped sums with exp scaled by the row maxima (posterior.py's
   * _grouped), rows that underflow redone in log space (its _direct).
   */
  function stepSums(prior, g, h, cst, nc, nb, na, nu) {
    var ui = prior.u_index, la = prior.a.log_weights, pa = stepTables(prior);
    var left = new Float64Array(nc * nb), right = new Float64Array(nc * nu);
    var logZ = new Float64Array(nc);
    var eg = new Float64Array(nb), eh = new Float64Array(nu);
    var grouped = nu * 4 <= nb * na;
    var upper = new Float64Array(nc), total = new Float64Array(nc), j, i, k, t;
    var maxLogZ = -Infinity;
    for (j = 0; j < nc && grouped; j++) {
      var gm = -Infinity, hm = -Infinity;
      for (i = 0; i < nb; i++) if (g[j * nb + i] > gm) gm = g[j * nb + i];
      for (k = 0; k < nu; k++) if (h[j * nu + k] > hm) hm = h[j * nu + k];
      for (i = 0; i < nb; i++) eg[i] = Math.exp(g[j * nb + i] - gm);
      for (k = 0; k < nu; k++) eh[k] = Math.exp(h[j * nu + k] - hm);
      var tot = 0, ro = j * nu, lo = j * nb;
      for (i = 0; i < nb; i++) {
        var s = 0, egi = eg[i], base = i * na;
        for (t = 0; t < na; t++) {
          var kk = ui[base + t], wgt = pa[t];
          s += wgt * eh[kk];
          right[ro + kk] += egi * wgt;
        }
        left[lo + i] = egi * s;
        tot += egi * s;
      }
      for (k = 0; k < nu; k++) right[ro + k] *= eh[k];
      total[j] = tot;
      logZ[j] = cst[j] + gm + hm + Math.log(tot);
      upper[j] = cst[j] + gm + hm + Math.log(nb);
      if (logZ[j] > maxLogZ) maxLogZ = logZ[j];
      var inv = 1 / Math.max(tot, 1e-300);
      for (i = 0; i < nb; i++) left[lo + i] *= inv;
      for (k = 0; k < nu; k++) right[ro + k] *= inv;
    }
    var lj = new Float64Array(nb * na);
    for (j = 0; j < nc; j++) {
      if (grouped && !(total[j] < 1e-250 && upper[j] > maxLogZ - 80)) continue;
      // exactly, latent by latent, in log space
      var mx = -Infinity;
      for (i = 0; i < nb; i++) {
        for (t = 0; t < na; t++) {
          var v = g[j * nb + i] + la[t] + h[j * nu + ui[i * na + t]];
          lj[i * na + t] = v;
          if (v > mx) mx = v;
        }
      }
      var sum = 0;
      for (i = 0; i < nb * na; i++) { lj[i] = Math.exp(lj[i] - mx); sum += lj[i]; }
      logZ[j] = cst[j] + mx + Math.log(sum);
      for (k = 0; k < nu; k++) right[j * nu + k] = 0;
      for (i = 0; i < nb; i++) {
        var row = 0;
        for (t = 0; t < na; t++) {
          var e = lj[i * na + t] / sum;
          row += e;
          right[j * nu + ui[i * na + t]] += e;
        }
        left[j * nb + i] = row;
      }
    }
    return { left: left, right: right, logZ: logZ };
  }

  /** The posterior of a step prior given the context (x, y), Float64Arrays of equal length. */
  function fitSteps(prior, x, y) {
    var sigma = prior.sigma, c = prior.c.values, b = prior.b.values, u = prior.u;
    var nc = c.length, nb = b.length, na = prior.a.values.length, nu = u.length, n = x.length;
    var order = Array.from(x, function (_, i) { return i; });
    order.sort(function (p, q) { return x[p] - x[q]; });
    var xs = new Float64Array(n), cum = new Float64Array(n + 1), s2 = 0, i, j, k;
    for (i = 0; i < n; i++) {
      xs[i] = x[order[i]];
      cum[i + 1] = cum[i] + y[order[i]];
      s2 += y[i] * y[i];
    }
    var inv = 1 / (2 * sigma * sigma), lwb = prior.b.log_weights, lwc = prior.c.log_weights;
    var g = new Float64Array(nc * nb), h = new Float64Array(nc * nu), cst = new Float64Array(nc);
    var gc = gaussConst(n, sigma);
    for (j = 0; j < nc; j++) {
      var nl = M.searchSorted(xs, c[j], true); // points with x <= c: mean b
      var s1l = cum[nl], nr = n - nl, s1r = cum[n] - s1l;
      for (i = 0; i < nb; i++) g[j * nb + i] = (2 * b[i] * s1l - nl * b[i] * b[i]) * inv + lwb[i];
      for (k = 0; k < nu; k++) h[j * nu + k] = (2 * u[k] * s1r - nr * u[k] * u[k]) * inv;
      cst[j] = lwc[j] + gc - s2 * inv;
    }
    var sums = stepSums(prior, g, h, cst, nc, nb, na, nu);
    var logEvidence = M.logSumExp(sums.logZ);
    var pc = new Float64Array(nc); // p(c | D)
    for (j = 0; j < nc; j++) {
      var sc = Math.exp(sums.logZ[j] - logEvidence);
      pc[j] = sc;
      for (i = 0; i < nb; i++) sums.left[j * nb + i] *= sc;
      for (k = 0; k < nu; k++) sums.right[j * nu + k] *= sc;
    }
    return {
      logEvidence: logEvidence,
      /** PPD atoms at x_query: means shared by all queries (b, then u), masses per query. */
      atoms: function (xq) {
        var nq = xq.length, na_ = nb + nu;
        var cumL = new Float64Array((nc + 1) * nb), cumR = new Float64Array((nc + 1) * nu);
        for (j = 0; j < nc; j++) {
          for (i = 0; i < nb; i++) cumL[(j + 1) * nb + i] = cumL[j * nb + i] + sums.left[j * nb + i];
          for (k = 0; k < nu; k++) cumR[(j + 1) * nu + k] = cumR[j * nu + k] + sums.right[j * nu + k];
        }
        var mu = new Float64Array(na_), mass = new Float64Array(nq * na_);
        mu.set(b);
        mu.set(u, nb);
        for (var q = 0; q < nq; q++) {
          var kq = M.searchSorted(c, xq[q], false); // change points strictly below x: mean u
          for (i = 0; i < nb; i++) {
            mass[q * na_ + i] = Math.max(cumL[nc * nb + i] - cumL[kq * nb + i], 0);
          }
          for (k = 0; k < nu; k++) mass[q * na_ + nb + k] = cumR[kq * nu + k];
        }
        return { mu: mu, shared: true, mass: mass, nAtoms: na_, sigma: sigma };
      },
      latents: function (what) {
        if (what !== "step:c") return null;
        return { label: "c", values: c, probs: pc, onX: true };
      },
    };
  }

  // ------------------------------------------------------------------------------ sines

  var SINE_AXES = ["y0", "s", "A", "f", "phi"];
  var SINE_LABELS = ["y0", "s", "A", "f", "φ"];

  /** Parameters of every latent (C order over y0, s, A, f, phi), cached on the prior. */
  function sineLatents(prior) {
    if (prior._lat) return prior._lat;
    var sizes = SINE_AXES.map(function (n) { return prior[n].values.length; });
    var nl = sizes.reduce(function (a, b) { return a * b; }, 1);
    var idx = SINE_AXES.map(function () { return new Int32Array(nl); });
    var logPrior = new Float64Array(nl), theta = new Float64Array(4 * nl);
    for (var l = 0; l < nl; l++) {
      var rest = l, lp = 0, v = {};
      for (var a = 4; a >= 0; a--) {
        var ia = rest % sizes[a];
        rest = (rest - ia) / sizes[a];
        idx[a][l] = ia;
        lp += prior[SINE_AXES[a]].log_weights[ia];
        v[SINE_AXES[a]] = prior[SINE_AXES[a]].values[ia];
      }
      logPrior[l] = lp;
      theta[4 * l] = v.y0;
      theta[4 * l + 1] = v.s;
      theta[4 * l + 2] = v.A * Math.cos(2 * Math.PI * v.phi);
      theta[4 * l + 3] = v.A * Math.sin(2 * Math.PI * v.phi);
    }
    prior._lat = { n: nl, sizes: sizes, idx: idx, logPrior: logPrior, theta: theta };
    return prior._lat;
  }

  /**
   * `keep` (latent indices) without its lightest latents whose summed weight is at most
   * TAIL_MASS of the kept total: they move no CDF by more than that (quantiles by < 1e-9
   * where the PPD's density is above 1e-3), and a diffuse posterior's PPD then needs fewer
   * atoms per query. Heaviest first.
   */
  function dropTail(keep, logW) {
    var order = keep.slice().sort(function (p, q) { return logW[q] - logW[p]; });
    var w = order.map(function (k) { return Math.exp(logW[k]); });
    var total = 0, i;
    for (i = w.length - 1; i >= 0; i--) total += w[i];
    var dropped = 0, n = w.length;
    while (n > 1 && dropped + w[n - 1] <= TAIL_MASS * total) dropped += w[--n];
    return order.slice(0, n);
  }

  /** The posterior of a sine/line prior: log p(L | D) from per-frequency Gram matrices. */
  function fitSines(prior, x, y) {
    var L = sineLatents(prior), sigma = prior.sigma, n = x.length, inv = 1 / (2 * sigma * sigma);
    var fv = prior.f.values, fi = L.idx[3], th = L.theta, i, l;
    var s2 = 0;
    for (i = 0; i < n; i++) s2 += y[i] * y[i];
    var grams = fv.map(function (f) {
      var G = new Float64Array(16), v = new Float64Array(4), phi = new Float64Array(4);
      for (var p = 0; p < n; p++) {
        phi[0] = 1; phi[1] = x[p]; phi[2] = Math.sin(f * x[p]); phi[3] = Math.cos(f * x[p]);
        for (var r = 0; r < 4; r++) {
          v[r] += phi[r] * y[p];
          for (var cc = 0; cc < 4; cc++) G[r * 4 + cc] += phi[r] * phi[cc];
        }
      }
      return { G: G, v: v };
    });
    var logW = new Float64Array(L.n), gc = gaussConst(n, sigma);
    for (l = 0; l < L.n; l++) {
      var gm = grams[fi[l]], o = 4 * l, quad = s2;
      for (var r = 0; r < 4; r++) {
        quad -= 2 * th[o + r] * gm.v[r];
        for (var cc = 0; cc < 4; cc++) quad += th[o + r] * gm.G[r * 4 + cc] * th[o + cc];
      }
      logW[l] = L.logPrior[l] + gc - Math.max(quad, 0) * inv;
    }
    var logEvidence = M.logSumExp(logW);
    for (l = 0; l < L.n; l++) logW[l] -= logEvidence;
    return {
      logEvidence: logEvidence,
      logWeights: logW,
      atoms: function (xq) {
        var mx = -Infinity, keep = [], tot = 0;
        for (l = 0; l < L.n; l++) if (logW[l] > mx) mx = logW[l];
        for (l = 0; l < L.n; l++) if (logW[l] >= mx + PRUNE_LOG_WEIGHT) keep.push(l);
        keep = dropTail(keep, logW);
        var w = Float64Array.from(keep, function (k) { return Math.exp(logW[k]); });
        for (i = 0; i < w.length; i++) tot += w[i];
        var nq = xq.length, K = keep.length, nf = fv.length;
        var sinF = new Float64Array(nf * nq), cosF = new Float64Array(nf * nq);
        for (var a = 0; a < nf; a++) {
          for (var q0 = 0; q0 < nq; q0++) {
            sinF[a * nq + q0] = Math.sin(fv[a] * xq[q0]);
            cosF[a * nq + q0] = Math.cos(fv[a] * xq[q0]);
          }
        }
        var mu = new Float64Array(nq * K), mass = new Float64Array(nq * K);
        for (var k = 0; k < K; k++) {
          var b = 4 * keep[k], fo = fi[keep[k]] * nq, wk = w[k] / tot;
          var t0 = th[b], t1 = th[b + 1], t2 = th[b + 2], t3 = th[b + 3];
          for (var q = 0; q < nq; q++) {
            mu[q * K + k] = t0 + t1 * xq[q] + t2 * sinF[fo + q] + t3 * cosF[fo + q];
            mass[q * K + k] = wk;
          }
        }
        return { mu: mu, shared: false, mass: mass, nAtoms: K, sigma: sigma };
      },
      latents: function (what) {
        if (what.indexOf("axis:") !== 0) return null;
        var a = SINE_AXES.indexOf(what.slice(5));
        if (a < 0) return null;
        var probs = new Float64Array(L.sizes[a]);
        for (l = 0; l < L.n; l++) probs[L.idx[a][l]] += Math.exp(logW[l]);
        return { label: SINE_LABELS[a], values: prior[SINE_AXES[a]].values, probs: probs };
      },
    };
  }

  // ------------------------------------------------------------------------------ mixture

  function fitMixture(prior, x, y) {
    var parts = prior.families.map(function (f) { return fitFamily(f, x, y); });
    var lz = parts.map(function (p, i) { return prior.log_family_weights[i] + p.logEvidence; });
    var logEvidence = M.logSumExp(lz);
    var logFam = lz.map(function (v) { return v - logEvidence; });
    return {
      logEvidence: logEvidence,
      logFamilyWeights: logFam,
      atoms: function (xq) {
        var got = [];
        parts.forEach(function (p, i) {
          if (logFam[i] < PRUNE_LOG_WEIGHT) return;
          var at = p.atoms(xq), sc = Math.exp(logFam[i]);
          got.push({ at: at, scale: sc });
        });
        var nq = xq.length, K = got.reduce(function (s, g) { return s + g.at.nAtoms; }, 0);
        var mu = new Float64Array(nq * K), mass = new Float64Array(nq * K), off = 0;
        got.forEach(function (g) {
          var at = g.at, k0 = at.nAtoms;
          for (var q = 0; q < nq; q++) {
            for (var k = 0; k < k0; k++) {
              mu[q * K + off + k] = at.shared ? at.mu[k] : at.mu[q * k0 + k];
              mass[q * K + off + k] = at.mass[q * k0 + k] * g.scale;
            }
          }
          off += k0;
        });
        return { mu: mu, shared: false, mass: mass, nAtoms: K, sigma: prior.sigma };
      },
      latents: function (what) {
        if (what !== "families") return null;
        return {
          label: "family",
          values: prior.families.map(function (f) { return f.name; }),
          probs: Float64Array.from(logFam, Math.exp),
        };
      },
    };
  }

  function fitFamily(prior, x, y) {
    if (prior.family === "step") return fitSteps(prior, x, y);
    if (prior.family === "sine_line") return fitSines(prior, x, y);
    if (prior.family === "mixture") return fitMixture(prior, x, y);
    throw new Error("unknown prior family " + prior.family);
  }

  /**
   * The exact posterior of `prior` (webexport's JSON) given the context; an empty context
   * gives the prior predictive. Throws RangeError for x outside the prior's x range, where
   * p(x) = 0 and the posterior is undefined.
   */
  function fit(prior, x, y) {
    var lo = prior.x_range[0], hi = prior.x_range[1];
    for (var i = 0; i < x.length; i++) {
      if (!(x[i] >= lo && x[i] <= hi) || !isFinite(y[i])) {
        throw new RangeError("x_context must lie in the prior's x range [" + lo + ", " + hi + "]");
      }
    }
    var post = fitFamily(prior, Float64Array.from(x), Float64Array.from(y));
    if (!isFinite(post.logEvidence)) throw new RangeError("the context is impossible under the prior");
    return post;
  }

  // ------------------------------------------------------------------------------ PPD summaries

  /**
   * Mixture CDF and density at y of n atoms (means mus, masses ms). Beyond 9 sigma an atom's
   * CDF is 0 or 1 and its density 0 to within 1e-18: skipped.
   */
  function cdfPdf(mus, ms, n, sigma, y, out) {
    var F = 0, f = 0, inv = 1 / sigma, phi = CDF_SLOPE;
    for (var t = 0; t < n; t++) {
      var z = (y - mus[t]) * inv;
      if (z >= 9) { F += ms[t]; continue; }
      if (z <= -9) continue;
      M.normCdfSlope(z, phi);
      F += ms[t] * phi[0];
      f += ms[t] * phi[1];
    }
    out[0] = F;
    out[1] = f * inv;
  }

  /**
   * PPD mean and quantiles at each query. Quantiles solve CDF(y) = level by Newton steps
   * kept inside a shrinking bracket (bisection where a step would leave it), started from
   * the previous query's answer: converged where the CDF matches to 1e-13 or the step or
   * bracket is below 1e-11, as posterior.py's Atoms.quantiles. Each query's atoms above
   * mass 1e-16 are first copied into two dense arrays, which the solver sweeps.
   * @returns {{mean: Float64Array, quantiles: Float64Array[]}}
   */
  function summaries(at, nq, levels) {
    var K = at.nAtoms, sigma = at.sigma;
    var mean = new Float64Array(nq), qs = levels.map(function () { return new Float64Array(nq); });
    var mus = new Float64Array(K), ms = new Float64Array(K), r = new Float64Array(2), q, k;
    for (q = 0; q < nq; q++) {
      var m = 0, nKeep = 0, mlo = Infinity, mhi = -Infinity;
      for (k = 0; k < K; k++) {
        var mu = at.shared ? at.mu[k] : at.mu[q * K + k], w = at.mass[q * K + k];
        m += w * mu;
        if (w > 1e-16) {
          mus[nKeep] = mu;
          ms[nKeep++] = w;
          if (mu < mlo) mlo = mu;
          if (mu > mhi) mhi = mu;
        }
      }
      mean[q] = m;
      for (var li = 0; li < levels.length; li++) {
        var level = levels[li], lo = mlo - 40 * sigma, hi = mhi + 40 * sigma;
        var yv = q > 0 ? qs[li][q - 1] : m + sigma * M.normInv(level) * 1.5;
        if (!(yv > lo && yv < hi)) yv = 0.5 * (lo + hi);
        for (var it = 0; it < 200; it++) {
          cdfPdf(mus, ms, nKeep, sigma, yv, r);
          var err = r[0] - level;
          if (Math.abs(err) <= 1e-13) break;
          if (err < 0) lo = yv; else hi = yv;
          var step = yv - err / Math.max(r[1], 1e-300);
          var next = step > lo && step < hi ? step : 0.5 * (lo + hi);
          var done = Math.abs(next - yv) <= 1e-11 || hi - lo <= 1e-11;
          yv = next;
          if (done) break;
        }
        qs[li][q] = yv;
      }
    }
    return { mean: mean, quantiles: qs };
  }

  /**
   * Per-query atoms (not shared) on the grid for shading: each atom's mass is split between
   * its two nearest grid points (which keeps its mass and mean), and the binned masses are
   * convolved with the Gaussian sampled on the grid: ny (2R + 1) per query however many atoms,
   * where the direct sum costs atoms x 2R. Off by about (dy / sigma)^2 / 8 of the peak: a
   * display, not a number (the band and mean are computed from the atoms exactly).
   */
  function binnedDensity(at, nq, y0, dy, ny, out) {
    var K = at.nAtoms, sigma = at.sigma, R = Math.ceil(7 * sigma / dy), q, k, j, d;
    var norm = 1 / (sigma * Math.sqrt(2 * Math.PI)), kern = new Float64Array(2 * R + 1);
    for (d = -R; d <= R; d++) kern[d + R] = norm * Math.exp(-0.5 * Math.pow(d * dy / sigma, 2));
    var bins = new Float64Array(ny + 2 * R + 2);
    for (q = 0; q < nq; q++) {
      bins.fill(0);
      var lo = bins.length, hi = -1;
      for (k = 0; k < K; k++) {
        var m = at.mass[q * K + k];
        if (m < 1e-9) continue;
        var t = (at.mu[q * K + k] - y0) / dy + R, i = Math.floor(t), f = t - i;
        if (i < 0 || i + 1 >= bins.length) continue; // beyond 7 sigma of the grid
        bins[i] += m * (1 - f);
        bins[i + 1] += m * f;
        if (i < lo) lo = i;
        if (i + 1 > hi) hi = i + 1;
      }
      for (j = 0; j < ny; j++) {
        var a = Math.max(lo, j), b = Math.min(hi, j + 2 * R), v = 0; // bins within R of j
        for (var bi = a; bi <= b; bi++) v += bins[bi] * kern[bi - j];
        out[q * ny + j] = v;
      }
    }
    return out;
  }

  /**
   * PPD density on an evenly spaced y grid for each query, for shading: (nq x ny). Atoms
   * with mass below 1e-9 and contributions beyond 7 sigma are skipped (display only). Shared
   * atoms reuse one kernel table per grid (cached on `cache`); atoms per query are binned
   * (binnedDensity).
   */
  function density(at, nq, yGrid, cache) {
    var K = at.nAtoms, sigma = at.sigma, ny = yGrid.length;
    var out = new Float64Array(nq * ny), y0 = yGrid[0], dy = (yGrid[ny - 1] - y0) / (ny - 1);
    var norm = 1 / (sigma * Math.sqrt(2 * Math.PI)), reach = 7 * sigma, q, k, j;
    var span = Math.ceil(reach / dy) * 2 + 2;
    var table = null;
    if (!at.shared) return binnedDensity(at, nq, y0, dy, ny, out);
    if (cache) {
      if (cache.mu !== at.mu || cache.y0 !== y0 || cache.dy !== dy || cache.ny !== ny) {
        cache.mu = at.mu; cache.y0 = y0; cache.dy = dy; cache.ny = ny;
        cache.j0 = new Int32Array(K);
        cache.table = new Float64Array(K * span);
        for (k = 0; k < K; k++) {
          var a0 = Math.max(0, Math.ceil((at.mu[k] - reach - y0) / dy));
          cache.j0[k] = a0;
          for (j = 0; j < span && a0 + j < ny; j++) {
            var zz = (y0 + (a0 + j) * dy - at.mu[k]) / sigma;
            cache.table[k * span + j] = Math.abs(zz) <= 7 ? norm * Math.exp(-0.5 * zz * zz) : 0;
          }
        }
      }
      table = cache.table;
    }
    for (q = 0; q < nq; q++) {
      for (k = 0; k < K; k++) {
        var m = at.mass[q * K + k];
        if (m < 1e-9) continue;
        var mu = at.shared ? at.mu[k] : at.mu[q * K + k];
        var j1 = Math.min(ny - 1, Math.floor((mu + reach - y0) / dy));
        if (table) {
          var b0 = cache.j0[k], tk = k * span, o = q * ny;
          for (j = b0; j <= j1; j++) out[o + j] += m * table[tk + j - b0];
          continue;
        }
        for (j = Math.max(0, Math.ceil((mu - reach - y0) / dy)); j <= j1; j++) {
          var z = (y0 + j * dy - mu) / sigma;
          out[q * ny + j] += m * norm * Math.exp(-0.5 * z * z);
        }
      }
    }
    return out;
  }

  var ns = (root.BayeslensLive = root.BayeslensLive || {});
  ns.exact = { fit: fit, summaries: summaries, density: density };
})(typeof self !== "undefined" ? self : globalThis);
