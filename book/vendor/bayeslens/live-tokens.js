// bayeslens live explorers: the token explorer's page wiring (our code, MIT).
//
// A <div class="bayeslens-live" data-kind="tokens" data-explorer="NAME"> (written by
// bayeslens.webexport.live_explorer) becomes a token explorer: buttons for the tokens, a text
// box to type a prefix, undo, clear and the presets of bayeslens.token_explorer; on every
// change it computes the exact next token and the network's (live-sequence.js) and draws
// them (live-draw.js). live.js creates it, in page order with the other explorers, and hands
// it the page's helpers.
//
// Test hook entry (window.bayeslensLive[i], kind "tokens"):
//   setTokens(tokens)  sets the prefix (an array of ints) and resolves to the result
//   setText(text)      the same from typed text ("0120", "0 1 2 0")
//   result()           the last result: {tokens, accepted, exact, network, posterior, counts,
//                      kl, messages, timings} as plain arrays. A refused prefix (a bad token,
//                      or longer than the network reads) leaves the prefix as it was:
//                      accepted is false and messages say why; the numbers are those of the
//                      prefix kept.
(function (root) {
  "use strict";

  var L = root.BayeslensLive;
  var SEPARATORS = /[\s,;]+/g;

  /**
   * Tokens from typed text, as bayeslens.token_explorer.parse_tokens reads it.
   * @param {string} text @param {number} V
   * @returns {number[]}  or throws an Error naming the first bad character
   */
  function parseTokens(text, V) {
    var s = String(text).replace(SEPARATORS, ""), out = [];
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i) - 48;
      if (!(c >= 0 && c < V && c <= 9)) {
        throw new Error("type the tokens 0 .. " + (V - 1) + ", one digit each (spaces or " +
          "commas between them optional): character " + (i + 1) + " is '" + s[i] + "'");
      }
      out.push(c);
    }
    return out;
  }

  /** Tokens as digits in groups of 8, as bayeslens.token_explorer.format_tokens. */
  function formatTokens(tokens) {
    var d = tokens.join(""), parts = [];
    for (var i = 0; i < d.length; i += 8) parts.push(d.slice(i, i + 8));
    return parts.join(" ");
  }

  function TokenExplorer(box, page) {
    this.box = box;
    this.page = page;
    this.name = box.getAttribute("data-explorer");
    this.tokens = [];
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
      kind: "tokens",
      ready: this.ready,
      setTokens: function (t) { return self.setTokens(t); },
      setText: function (t) { return self.setText(t); },
      result: function () { return self.last; },
      chart: null,
    };
    page.hook.push(this.entry);
    this.message = box.querySelector(".bayeslens-live-message");
    if (this.message) {
      this.message.textContent = "Live explorer: it loads when you scroll to it (about 0.4 MB: " +
        "the network's weights)...";
    }
  }

  TokenExplorer.prototype.start = function () {
    if (this.started) return this.ready;
    this.started = true;
    var self = this, page = this.page;
    var dir = page.base + "live/" + encodeURIComponent(this.name) + "/";
    if (typeof fetch === "undefined") {
      this._fail(new Error("this browser lacks fetch"));
      return this.ready;
    }
    page.fetchOk(dir + "explorer.json", "json").then(function (doc) {
      if (doc.format !== "bayeslens-live" || doc.format_version !== 1 ||
          doc.explorer.kind !== "tokens") {
        throw new Error("live/" + self.name + "/explorer.json is not a token explorer");
      }
      var wt = doc.model.weights;
      return page.fetchOk(dir + wt.file + "?v=" + wt.sha256.slice(0, 16), "arrayBuffer")
        .then(function (buf) {
          if (buf.byteLength !== wt.bytes) throw new Error("weights.bin has the wrong size");
          var tensors = L.network.decodeWeights(buf, wt);
          self.net = new L.sequence.SequenceNetwork(doc.model.config, tensors);
          self.doc = doc;
          self._build();
          self._accept([], "");
          self._resolve(self.entry);
        });
    }).catch(function (err) { self._fail(err); });
    return this.ready;
  };

  TokenExplorer.prototype._fail = function (err) {
    var local = location.protocol === "file:";
    this.box.classList.add("bayeslens-live-failed");
    var m = this.message || this.page.h("p", "bayeslens-live-message", this.box);
    m.textContent = "The live explorer cannot run here (" + err.message + "). " +
      (local ? "Opened from a file, the browser refuses to load its data: serve the book " +
        "(bash tasks.sh book) and open it over http. " : "") +
      "In a notebook, bayeslens.token_explorer.token_explorer shows the same in Python.";
    this._reject(err);
  };

  TokenExplorer.prototype._build = function () {
    var doc = this.doc, ex = doc.explorer, V = doc.prior.vocab_size, self = this;
    var h = this.page.h, box = this.box;
    box.innerHTML = "";
    box.classList.add("bayeslens-live-ready", "bayeslens-live-tokens");
    h("p", "bayeslens-live-title", box, ex.title);
    h("p", "bayeslens-live-help", box, "Click a token to add it to the sequence, or type " +
      "one (e.g. 0120); the bars show the distribution of the next token after it: the " +
      "exact predictive and the network's, with their KL.");
    var controls = h("div", "bayeslens-live-controls", box);
    var keys = h("div", "bayeslens-live-buttons", controls);
    for (var v = 0; v < V; v++) {
      var b = h("button", "bayeslens-live-token", keys, String(v));
      b.type = "button";
      b.style.background = L.draw.tokenColor(v);
      b.setAttribute("aria-label", "add token " + v);
      b.setAttribute("data-token", v);
      b.addEventListener("click", (function (t) {
        return function () { self._accept(self.tokens.concat([t]), "button"); };
      })(v));
    }
    var edit = h("div", "bayeslens-live-buttons", controls);
    h("button", null, edit, "undo").addEventListener("click", function () {
      self._accept(self.tokens.slice(0, -1), "button");
    });
    h("button", null, edit, "clear").addEventListener("click", function () {
      self._accept([], "button");
    });
    var lab = h("label", "bayeslens-live-select", controls, "preset ");
    var sel = h("select", null, lab);
    h("option", null, sel, "load a sequence...").value = "";
    ex.presets.forEach(function (p, i) {
      h("option", null, sel, p.label + " (" + p.tokens.length + " tokens)").value = String(i);
    });
    sel.addEventListener("change", function () {
      if (sel.value === "") return;
      self._accept(ex.presets[+sel.value].tokens.slice(), "button");
      sel.value = "";
    });
    var typed = h("label", "bayeslens-live-typed", box);
    h("span", "name", typed, "tokens");
    this.input = h("input", null, typed);
    this.input.type = "text";
    this.input.setAttribute("inputmode", "numeric");
    this.input.setAttribute("autocomplete", "off");
    this.input.setAttribute("spellcheck", "false");
    this.input.placeholder = "type tokens, e.g. 0120";
    this.input.addEventListener("input", function () {
      self._typed(self.input.value);
    });
    this.prefix = h("p", "bayeslens-live-prefix", box);
    this.status = h("div", "bayeslens-live-status", box);
    this.status.setAttribute("role", "status");
    this.charts = h("div", "bayeslens-live-charts", box);
    this.counts = doc.prior.family === "dirichlet_markov" ?
      h("p", "bayeslens-live-counts", box) : null;
    this.timing = h("p", "bayeslens-live-timing", box);
    this._layout();
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () {
        if (self._layout() && self.last) self.compute();
      }).observe(box);
    }
  };

  /**
   * (Re)make the charts as wide as the box (at most 680, the text column), so that their
   * text stays readable on a phone; true if they were remade.
   */
  TokenExplorer.prototype._layout = function () {
    var width = Math.round(Math.max(300, Math.min(680, this.charts.clientWidth || 680)));
    if (this.width && Math.abs(width - this.width) < 24) return false;
    this.width = width;
    this.charts.innerHTML = "";
    this.bars = new L.draw.NextTokenBars(this.charts, width, width < 520 ? 270 : 250);
    this.chains = this.doc.prior.family === "markov_pool" ?
      new L.draw.Bars(this.charts, width, width < 520 ? 130 : 110) : null;
    return true;
  };

  /** Text typed into the box: a prefix, or a message saying what cannot be read. */
  TokenExplorer.prototype._typed = function (text) {
    var tokens;
    try {
      tokens = parseTokens(text, this.doc.prior.vocab_size);
    } catch (err) {
      this.input.classList.add("invalid");
      return this._refuse(err.message.charAt(0).toUpperCase() + err.message.slice(1) + ".");
    }
    return this._accept(tokens, "text");
  };

  /** Keep the prefix and show why the new one is refused. */
  TokenExplorer.prototype._refuse = function (message) {
    var r = Object.assign({}, this.last, { accepted: false, messages: [message] });
    this._show(r.messages);
    this.last = r;
    return r;
  };

  /**
   * Take a new prefix if the network can read it (else refuse it): recompute and redraw.
   * `from` is "text" when typed (the box keeps what was typed), else the box shows the prefix.
   */
  TokenExplorer.prototype._accept = function (tokens, from) {
    var most = this.doc.explorer.max_prefix, V = this.doc.prior.vocab_size, checked;
    try {
      checked = L.sequence.checkTokens(tokens, V);
    } catch (err) {
      return this._refuse("Refused: " + err.message + ".");
    }
    if (checked.length > most) {
      if (from === "text") this.input.classList.add("invalid");
      return this._refuse("The network reads at most " + most + " tokens before it predicts " +
        "the next (max_length " + (most + 1) + ", its start token included): " +
        checked.length + " tokens are refused, the prefix stays at " + this.tokens.length + ".");
    }
    this.input.classList.remove("invalid");
    this.tokens = checked;
    if (from !== "text") this.input.value = formatTokens(checked);
    return this.compute();
  };

  TokenExplorer.prototype._show = function (messages) {
    var self = this;
    this.status.innerHTML = "";
    messages.forEach(function (m) { self.page.h("p", null, self.status, m); });
    this.box.classList.toggle("bayeslens-live-warn", messages.length > 0);
  };

  function plain(a) {
    return a ? Array.from(a) : null;
  }

  /** Both sides for the current prefix, drawn; returns the hook's result. */
  TokenExplorer.prototype.compute = function () {
    var doc = this.doc, tokens = this.tokens.slice(), n = tokens.length, messages = [];
    var h = this.page.h, self = this;
    var t0 = performance.now(), exact = null, logQ = null, kl = null;
    try {
      exact = L.sequence.exactNext(doc.prior, tokens);
    } catch (err) {
      messages.push("Exact predictive: " + err.message + ".");
    }
    var t1 = performance.now();
    try {
      logQ = this.net.nextLogProbs(tokens);
      for (var v = 0; v < logQ.length; v++) {
        if (!isFinite(logQ[v])) throw new Error("its output is not finite");
      }
    } catch (err) {
      logQ = null;
      messages.push("The network failed: " + err.message + ".");
    }
    var t2 = performance.now();
    var network = logQ && Float64Array.from(logQ, Math.exp);
    if (exact && logQ) kl = L.sequence.kl(exact.logProbs, logQ);
    this.bars.draw(exact && exact.probs, network, kl,
      "token " + (n + 1) + ", after " + (n ? n + " token" + (n > 1 ? "s" : "") :
        "no tokens (the first token: the initial distribution)"));
    this.prefix.innerHTML = "";
    h("span", "name", this.prefix, "prefix (" + n + " of at most " + doc.explorer.max_prefix +
      " tokens): ");
    var code = h("code", null, this.prefix);
    if (!n) h("span", "empty", code, "(no tokens yet)");
    tokens.forEach(function (t, i) {
      var s = h("span", "tok", code, String(t));
      s.style.color = L.draw.tokenColor(t);
      if (i % 8 === 7 && i < n - 1) code.appendChild(document.createTextNode(" "));
    });
    if (this.chains) {
      this.chains.draw(exact && exact.posterior && {
        label: "chain k", given: n ? "the " + n + " tokens" : "no tokens: the prior",
        values: Array.from(exact.posterior, function (_, k) { return String(k); }),
        probs: exact.posterior,
      });
    }
    if (this.counts) this._counts(exact, tokens);
    this._show(messages);
    var t3 = performance.now();
    var timings = { exact_ms: t1 - t0, network_ms: t2 - t1, draw_ms: t3 - t2,
      total_ms: t3 - t0 };
    this.timing.textContent = n + " token" + (n === 1 ? "" : "s") + " · computed in your " +
      "browser in " + timings.total_ms.toFixed(1) + " ms (exact " + timings.exact_ms.toFixed(1) +
      " ms, network " + timings.network_ms.toFixed(1) + " ms)";
    this.last = {
      name: this.name,
      tokens: tokens,
      accepted: true,
      exact: exact && plain(exact.probs),
      network: plain(network),
      posterior: exact && plain(exact.posterior),
      counts: exact && plain(exact.counts),
      kl: kl,
      messages: messages,
      timings: timings,
    };
    return this.last;
  };

  /** The Dirichlet predictive spelled out: the bigram counts from the last token. */
  TokenExplorer.prototype._counts = function (exact, tokens) {
    var c = this.counts, n = tokens.length, a = this.doc.prior.alpha;
    if (!exact) { c.textContent = ""; return; }
    if (!exact.counts) {
      c.textContent = "No tokens yet: the first token comes from the initial distribution.";
      return;
    }
    var last = tokens[n - 1], counts = Array.from(exact.counts), total = 0;
    counts.forEach(function (k) { total += k; });
    var V = counts.length;
    c.textContent = "After token " + last + ", the prefix has the bigrams " +
      counts.map(function (k, v) { return last + "→" + v + " ×" + k; }).join(", ") +
      ", so the exact predictive is (" + counts.map(function (k) { return k + " + " + a; })
        .join(", ") + ") / (" + total + " + " + V + " × " + a + ").";
  };

  TokenExplorer.prototype.setTokens = function (tokens) {
    var self = this;
    this.start();
    return this.ready.then(function () { return self._accept(tokens, "hook"); });
  };

  TokenExplorer.prototype.setText = function (text) {
    var self = this;
    this.start();
    return this.ready.then(function () {
      self.input.value = String(text);
      return self._typed(self.input.value);
    });
  };

  var ns = (root.BayeslensLive = root.BayeslensLive || {});
  ns.tokens = { Explorer: TokenExplorer, parseTokens: parseTokens, formatTokens: formatTokens };
})(typeof self !== "undefined" ? self : globalThis);
