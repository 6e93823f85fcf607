// bayeslens live explorers: token sequences, the exact next token and the causal transformer
// (our code, MIT).
//
// Mirrors bayeslens/sequence_posterior.py and bayeslens/sequence_model.py on what
// bayeslens/webexport.py wrote (the prior's transition matrices or Dirichlet alpha, the
// model's config and weights). A prefix is an array of t >= 0 tokens x_1 .. x_t in 0 .. V-1;
// each function answers for the token after it, x_{t+1}.
//   pool       log p(x_1..x_t | k) = log q(x_1) + sum_s log P_k[x_s, x_{s+1}] per chain k;
//              p(k | prefix) = softmax_k(log w_k + that); p(v | prefix) = sum_k p(k | prefix)
//              P_k[x_t, v], as a logsumexp (float64, log space). No tokens: q and w.
//   Dirichlet  p(v | prefix) = (n_{x_t v} + alpha) / (n_{x_t .} + V alpha), n the bigram
//              counts of the prefix; no tokens: the initial distribution.
//   network    the start token (index V of the embedding) then the prefix, learned positions,
//              pre-LN blocks with causal attention (GELU with erf), a final LayerNorm and the
//              head; the last position's logits, log-softmaxed (float32 weights and
//              activations, float64 sums).
(function (root) {
  "use strict";

  var M = root.BayeslensLive.math;
  var N = root.BayeslensLive.network;

  /**
   * The prefix as an array of ints in 0 .. V-1, else an Error saying what is wrong.
   * @param {ArrayLike<number>} tokens @param {number} V
   * @returns {number[]}
   */
  function checkTokens(tokens, V) {
    if (!tokens || typeof tokens.length !== "number") throw new Error("tokens must be an array");
    var out = [];
    for (var i = 0; i < tokens.length; i++) {
      var t = tokens[i];
      if (typeof t !== "number" || t !== Math.floor(t) || t < 0 || t >= V) {
        throw new Error("token " + (i + 1) + " is " + JSON.stringify(t) +
          ": the tokens are 0 .. " + (V - 1));
      }
      out.push(t);
    }
    return out;
  }

  /** Log tables of a pool, computed once: log P (K*V*V, C order), log q (V), log w (K). */
  function poolTables(prior) {
    if (!prior._log) {
      prior._log = {
        T: Float64Array.from(prior.transitions, Math.log),
        q: Float64Array.from(prior.initial, Math.log),
        w: Float64Array.from(prior.weights, Math.log),
      };
    }
    return prior._log;
  }

  /**
   * The exact next token after a prefix, and what explains it.
   * @param {object} prior  explorer.json's prior (family markov_pool or dirichlet_markov)
   * @param {number[]} tokens  the prefix (checkTokens)
   * @returns {{logProbs: Float64Array, probs: Float64Array, posterior: Float64Array|null,
   *            counts: Float64Array|null}}  posterior over the chains (pool), or the bigram
   *            counts from the last token (Dirichlet; null with no tokens)
   */
  function exactNext(prior, tokens) {
    var V = prior.vocab_size, n = tokens.length, v, k;
    var logProbs = new Float64Array(V), posterior = null, counts = null;
    if (prior.family === "markov_pool") {
      var K = prior.n_chains, L = poolTables(prior), lj = Float64Array.from(L.w);
      if (n > 0) {
        for (k = 0; k < K; k++) {
          var s = L.w[k] + L.q[tokens[0]], o = k * V * V;
          for (var i = 1; i < n; i++) s += L.T[o + tokens[i - 1] * V + tokens[i]];
          lj[k] = s;
        }
      }
      var lz = M.logSumExp(lj);
      if (lz === -Infinity) {
        throw new Error("the prefix has probability 0 under every chain of the pool");
      }
      posterior = new Float64Array(K);
      for (k = 0; k < K; k++) posterior[k] = Math.exp(lj[k] - lz);
      if (n === 0) {
        logProbs.set(L.q);
      } else {
        var last = tokens[n - 1], terms = new Float64Array(K);
        for (v = 0; v < V; v++) {
          for (k = 0; k < K; k++) terms[k] = lj[k] - lz + L.T[k * V * V + last * V + v];
          logProbs[v] = M.logSumExp(terms);
        }
      }
    } else if (prior.family === "dirichlet_markov") {
      var a = prior.alpha;
      if (n === 0) {
        for (v = 0; v < V; v++) logProbs[v] = Math.log(prior.initial[v]);
      } else {
        var prev = tokens[n - 1], total = 0;
        counts = new Float64Array(V);
        for (var j = 1; j < n; j++) {
          if (tokens[j - 1] === prev) { counts[tokens[j]] += 1; total += 1; }
        }
        var logDen = Math.log(total + V * a);
        for (v = 0; v < V; v++) logProbs[v] = Math.log(counts[v] + a) - logDen;
      }
    } else {
      throw new Error("unknown sequence prior family " + prior.family);
    }
    return { logProbs: logProbs, probs: Float64Array.from(logProbs, Math.exp),
      posterior: posterior, counts: counts };
  }

  /** KL(p || q) in nats of two log distributions; tokens with p = 0 add nothing. */
  function kl(logP, logQ) {
    var s = 0;
    for (var v = 0; v < logP.length; v++) {
      var p = Math.exp(logP[v]);
      if (p > 0) s += p * (logP[v] - logQ[v]);
    }
    return s;
  }

  /**
   * The sequence model from its exported config and tensors (decodeWeights).
   * @param {object} config  SequenceModelConfig as a dict
   * @param {Object<string, Float32Array>} tensors
   */
  function SequenceNetwork(config, tensors) {
    if (config.positions !== "learned" || !config.norm_first) {
      throw new Error("the browser runs learned positions and pre-layer-norm only");
    }
    this.config = config;
    this.w = tensors;
    var Lmax = config.max_length, D = config.d_model;
    this.h = new Float32Array(Lmax * D); // the residual stream
    this.f = new Float32Array(Lmax * D); // normed copies
    this.a = new Float32Array(Lmax * D); // block outputs
    this.o = new Float32Array(Lmax * D); // attention heads before out_proj
    this.qkv = new Float32Array(Lmax * 3 * D);
    this.wide = new Float32Array(Lmax * config.d_ff);
    this.logits = new Float32Array(config.vocab_size);
    this.scores = new Float64Array(Lmax);
  }

  /** Causal self-attention of layer l on the L normed rows in f; out_proj's output to a. */
  SequenceNetwork.prototype._attention = function (l, L) {
    var c = this.config, D = c.d_model, H = c.n_heads, hd = D / H, w = this.w;
    var p = "layers." + l + ".self_attn.", qkv = this.qkv, o = this.o, sc = this.scores;
    N.linearJs(this.f, 0, L, D, w[p + "in_proj_weight"], w[p + "in_proj_bias"], 3 * D, qkv, 0);
    var scale = 1 / Math.sqrt(hd), D3 = 3 * D;
    for (var i = 0; i < L; i++) {
      for (var hh = 0; hh < H; hh++) {
        var qo = i * D3 + hh * hd, mx = -Infinity, j, e;
        for (j = 0; j <= i; j++) { // position i attends to 0 .. i
          var ko = j * D3 + D + hh * hd, s = 0;
          for (e = 0; e < hd; e++) s += qkv[qo + e] * qkv[ko + e];
          s *= scale;
          sc[j] = s;
          if (s > mx) mx = s;
        }
        var tot = 0;
        for (j = 0; j <= i; j++) { sc[j] = Math.exp(sc[j] - mx); tot += sc[j]; }
        for (e = 0; e < hd; e++) {
          var acc = 0, vo = 2 * D + hh * hd + e;
          for (j = 0; j <= i; j++) acc += sc[j] * qkv[j * D3 + vo];
          o[i * D + hh * hd + e] = acc / tot;
        }
      }
    }
    N.linearJs(o, 0, L, D, w[p + "out_proj.weight"], w[p + "out_proj.bias"], D, this.a, 0);
  };

  /**
   * The network's log q(x_{t+1} = v | prefix), a Float64Array (V). The prefix holds 0 ..
   * max_length - 1 tokens (the model reads its start token and them).
   * @param {number[]} tokens
   */
  SequenceNetwork.prototype.nextLogProbs = function (tokens) {
    var c = this.config, D = c.d_model, V = c.vocab_size, w = this.w;
    var L = tokens.length + 1, h = this.h, f = this.f, a = this.a, i, d;
    if (L > c.max_length) {
      throw new RangeError("the network reads at most " + (c.max_length - 1) + " tokens");
    }
    var te = w["token_embedding.weight"], pe = w["position_embedding.weight"];
    for (i = 0; i < L; i++) {
      var tok = i === 0 ? V : tokens[i - 1]; // index V: the start token
      for (d = 0; d < D; d++) h[i * D + d] = te[tok * D + d] + pe[i * D + d];
    }
    var n = L * D;
    for (var l = 0; l < c.n_layers; l++) {
      var p = "layers." + l + ".";
      f.set(h.subarray(0, n));
      N.layerNorm(f, 0, L, D, w[p + "norm1.weight"], w[p + "norm1.bias"]);
      this._attention(l, L);
      for (i = 0; i < n; i++) h[i] += a[i];
      f.set(h.subarray(0, n));
      N.layerNorm(f, 0, L, D, w[p + "norm2.weight"], w[p + "norm2.bias"]);
      N.linearJs(f, 0, L, D, w[p + "linear1.weight"], w[p + "linear1.bias"], c.d_ff,
        this.wide, 0);
      N.gelu(this.wide, L * c.d_ff);
      N.linearJs(this.wide, 0, L, c.d_ff, w[p + "linear2.weight"], w[p + "linear2.bias"], D,
        a, 0);
      for (i = 0; i < n; i++) h[i] += a[i];
    }
    // the last position only: final LayerNorm, head, log-softmax
    var last = (L - 1) * D;
    f.set(h.subarray(last, last + D));
    N.layerNorm(f, 0, 1, D, w["final_norm.weight"], w["final_norm.bias"]);
    N.linearJs(f, 0, 1, D, w["head.weight"], w["head.bias"], V, this.logits, 0);
    var mx = -Infinity, s = 0, out = new Float64Array(V);
    for (i = 0; i < V; i++) if (this.logits[i] > mx) mx = this.logits[i];
    for (i = 0; i < V; i++) s += Math.exp(this.logits[i] - mx);
    var lse = mx + Math.log(s);
    for (i = 0; i < V; i++) out[i] = this.logits[i] - lse;
    return out;
  };

  var ns = (root.BayeslensLive = root.BayeslensLive || {});
  ns.sequence = {
    checkTokens: checkTokens, exactNext: exactNext, kl: kl, SequenceNetwork: SequenceNetwork,
  };
})(typeof self !== "undefined" ? self : globalThis);
