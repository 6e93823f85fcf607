// bayeslens: glue between the vendored widget manager, RequireJS and MathJax 3 (our code, MIT).
// Loaded after require.js and before html-manager/embed-amd.js on pages with widgets.
(function () {
  "use strict";
  // 1. The widget manager finds its own assets (Font Awesome fonts) relative to the AMD module
  //    name "@jupyter-widgets/html-manager/dist/...", resolved against the page by RequireJS.
  //    Map that name to the vendored folder, so no request goes to a missing path.
  var me = document.currentScript && document.currentScript.src;
  if (me && window.require && window.require.config) {
    var base = me.replace(/bayeslens\/widgets-setup\.js(\?.*)?$/, "");
    window.require.config({
      paths: { "@jupyter-widgets/html-manager/dist": base + "html-manager" },
    });
  }
  // 2. The widget manager typesets labels with MathJax 2's MathJax.Hub.Queue; the book loads
  //    MathJax 3. Give MathJax 3 that one entry point once it is on the page (MathJax is
  //    deferred, so it has run by DOMContentLoaded, before the widgets render).
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub) return;
    mj.Hub = {
      Queue: function (command) {
        var element = Array.isArray(command) ? command[2] : null;
        if (!element || !mj.startup || !mj.startup.promise) return;
        mj.startup.promise
          .then(function () {
            return mj.typesetPromise ? mj.typesetPromise([element]) : null;
          })
          .catch(function () {});
      },
    };
  });
})();
