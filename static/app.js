// Org Desk's own script (a file: the CSP allows no inline script).
// - "/" puts the cursor in the header's search box, unless the person is typing in a field.
// - Parts marked data-load-queue load a few at a time (each is one Management API call): their
//   hx-trigger is "orgdesk:load", fired for at most MAX_LOADING of them at once.
(function () {
  "use strict";
  var MAX_LOADING = 4;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var box = document.getElementById("site-search");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });

  var waiting = [];
  var loading = 0;

  function next() {
    while (loading < MAX_LOADING && waiting.length) {
      var element = waiting.shift();
      if (!element.isConnected) continue;
      loading += 1;
      element.setAttribute("data-loading-started", "");
      window.htmx.trigger(element, "orgdesk:load");
    }
  }

  function queue(root) {
    var found = root.querySelectorAll("[data-load-queue]:not([data-queued])");
    for (var i = 0; i < found.length; i += 1) {
      found[i].setAttribute("data-queued", "");
      waiting.push(found[i]);
    }
    next();
  }

  // A part is done when its answer arrives (before the swap, while the element is still in the
  // page: an outerHTML swap removes it, and events on a removed element reach no listener here),
  // or when its request fails or times out.
  function done(event) {
    var element = event.detail && event.detail.elt;
    if (element && element.hasAttribute && element.hasAttribute("data-loading-started")) {
      element.removeAttribute("data-loading-started");
      loading -= 1;
      next();
    }
  }
  ["htmx:beforeSwap", "htmx:sendError", "htmx:timeout", "htmx:afterRequest"].forEach(function (name) {
    document.addEventListener(name, done);
  });
  document.addEventListener("htmx:load", function (event) { queue(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { queue(document); });
})();
