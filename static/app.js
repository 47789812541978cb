// Org Desk's own script (a file: the CSP allows no inline script). Each part is small and works
// on the markup the server sends; without it every page still works, only less comfortably.
//  1. Shortcuts: "/" search, "j"/"k" move through rows, Enter opens the focused row, Esc closes,
//     "?" the help panel. None fires while typing in a field.
//  2. Focus follows the work: a confirm step or the role picker takes focus, Esc or Cancel gives
//     it back to the button that opened it, after a change focus goes to the changed row (or
//     the next one), after paging to the first row.
//  3. A running change owns its row: aria-busy, its controls disabled, "Saving…" in words; no
//     other request may start from that row until Auth0 has answered.
//  4. Messages are a stack of toasts: dismissible, successes fade, errors stay; the changed row
//     shows the outcome for a few seconds.
//  5. Parts marked data-load-queue load a few at a time (each is one Management API call).
//  6. Bulk changes: "Select all on this page" ticks every member row's checkbox.
(function () {
  "use strict";
  var MAX_LOADING = 4;
  var OUTCOME_MS = 6000;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function focusOn(element) {
    if (!element) return;
    if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus();
    if (element.scrollIntoView) element.scrollIntoView({ block: "nearest" });
  }

  // --- 1. Shortcuts ------------------------------------------------------------------------

  // The rows j/k move through: data rows of the page's tables and result lists.
  function rows() {
    var found = document.querySelectorAll("main table.grid > tbody > tr, main ul.results > li");
    return Array.prototype.filter.call(found, function (row) {
      return isRow(row) && row.getClientRects().length > 0;
    });
  }

  // A row of data, not the line that says a table is empty.
  function isRow(row) {
    return !row.querySelector(":scope > td.empty");
  }

  function currentRow() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("main table.grid > tbody > tr, main ul.results > li") : null;
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = index + step;
    if (index === -1) {
      // Not on a row: j goes to the first row after the focus (after "Skip to members", the
      // first member), k to the last one before it.
      var here = document.activeElement !== document.body ? document.activeElement : null;
      var firstAfter = here ? all.findIndex(function (row) {
        return here.compareDocumentPosition(row) & Node.DOCUMENT_POSITION_FOLLOWING;
      }) : 0;
      if (firstAfter === -1) firstAfter = all.length;
      next = step > 0 ? firstAfter : firstAfter - 1;
    }
    focusOn(all[Math.max(0, Math.min(all.length - 1, next))]);
  }

  // What Enter opens on a focused row: its marked opener, else its first link.
  function openRow(row) {
    var opener = row.querySelector("[data-row-open]:not([disabled])") || row.querySelector("a[href]");
    if (opener) opener.click();
  }

  function helpPanel() {
    return document.getElementById("shortcuts");
  }

  function showHelp() {
    var panel = helpPanel();
    if (panel && !panel.open) panel.showModal();
  }

  // The open confirm step or role picker that Esc closes: the one holding focus, else the only one.
  function openStep() {
    var active = document.activeElement;
    var holding = active && active.closest ? active.closest("[data-step]:not([hidden])") : null;
    if (holding) return holding;
    var open = document.querySelectorAll("[data-step]:not([hidden])");
    return open.length === 1 ? open[0] : null;
  }

  // Removing a role asks first, in its chip: × opens "Remove? Remove / Keep" with focus on Keep;
  // Keep or Esc closes it and gives focus back to ×. The two buttons are made here, not sent
  // with every chip of a page: Remove posts the role's id (the ×'s data-chip-ask) to the cell's
  // data-remove-role URL, and the cell adds the member (its hx-vals).
  function button(label, text, className) {
    var made = document.createElement("button");
    made.type = "button";
    made.className = className;
    made.textContent = text;
    made.setAttribute("aria-label", label);
    return made;
  }

  function askChip(ask) {
    var chip = ask.closest(".chip");
    var cell = ask.closest("[data-remove-role]");
    if (!chip || !cell || chip.querySelector(".chip-confirm")) return;
    var name = chip.firstChild ? chip.firstChild.textContent.trim() : "";
    var confirm = document.createElement("span");
    confirm.className = "chip-confirm";
    confirm.setAttribute("data-step", "");
    confirm.appendChild(document.createTextNode("Remove? "));
    var remove = button("Yes, remove role " + name, "Remove", "small danger");
    remove.setAttribute("hx-post", cell.getAttribute("data-remove-role"));
    remove.setAttribute("hx-vals", JSON.stringify({ role: ask.getAttribute("data-chip-ask") }));
    var keep = button("Keep role " + name, "Keep", "small");
    keep.setAttribute("data-cancel", "");
    keep.setAttribute("data-chip-keep", "");
    confirm.appendChild(remove);
    confirm.appendChild(document.createTextNode(" "));
    confirm.appendChild(keep);
    chip.appendChild(confirm);
    window.htmx.process(confirm);
    ask.setAttribute("aria-expanded", "true");
    focusOn(keep);
  }

  function keepChip(keep) {
    var chip = keep.closest(".chip");
    var ask = chip && chip.querySelector("[data-chip-ask]");
    keep.closest(".chip-confirm").remove();
    if (!ask) return;
    ask.setAttribute("aria-expanded", "false");
    focusOn(ask);
  }

  document.addEventListener("click", function (event) {
    var ask = event.target.closest && event.target.closest("[data-chip-ask]");
    if (ask && !ask.disabled) return askChip(ask);
    var keep = event.target.closest && event.target.closest("[data-chip-keep]");
    if (keep && !keep.disabled) keepChip(keep);
  });

  function closeStep(step) {
    var cancel = step.querySelector("[data-cancel]");
    if (cancel && !cancel.disabled) cancel.click();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var panel = helpPanel();
    if (panel && panel.open) return; // the dialog handles its own keys (Esc closes it)
    if (event.key === "Escape") {
      var step = openStep();
      if (step) {
        event.preventDefault();
        closeStep(step);
      } else if (event.target.closest && event.target.closest("#messages .message")) {
        event.preventDefault();
        dismiss(event.target.closest(".message"));
      }
      return;
    }
    if (typing(event.target)) return;
    if (event.key === "Enter" && event.target.matches && event.target.matches("tr, li")) {
      if (event.target === currentRow()) {
        event.preventDefault();
        openRow(event.target);
      }
      return;
    }
    var action = { "/": "search", "?": "help", j: "next", k: "previous" }[event.key];
    if (!action) return;
    event.preventDefault();
    if (action === "search") {
      var box = document.getElementById("site-search");
      if (box) {
        box.focus();
        box.select();
      }
    } else if (action === "help") {
      showHelp();
    } else {
      move(action === "next" ? 1 : -1);
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-show-help], [data-close-help]");
    if (!target) return;
    var panel = helpPanel();
    if (!panel) return;
    if (target.hasAttribute("data-show-help")) showHelp();
    else panel.close();
  });

  // --- 2. and 3. Focus follows the work; a running change owns its row -----------------------

  var contexts = new WeakMap(); // xhr → what the request started from
  var openers = {}; // id of a row or cell showing a step → the hx-get of the button that opened it

  function holder(element) {
    return element.closest("tr[id], td[id]") || element.closest("tr");
  }

  // The row a control belongs to: a body row, or a footer row (an "Add …" step of the table).
  function rowOf(element) {
    return element.closest("main table.grid > tbody > tr, main table.grid > tfoot > tr");
  }

  function lock(row) {
    row.setAttribute("aria-busy", "true");
    var controls = row.querySelectorAll("button, input, select, textarea");
    for (var i = 0; i < controls.length; i += 1) {
      if (!controls[i].disabled) {
        controls[i].disabled = true;
        controls[i].setAttribute("data-locked", "");
      }
    }
    var note = document.createElement("span");
    note.className = "busy-note";
    note.setAttribute("data-busy-note", "");
    note.textContent = "Saving…";
    var cells = row.querySelectorAll("td");
    (cells[cells.length - 1] || row).appendChild(note);
  }

  function unlock(row) {
    row.removeAttribute("aria-busy");
    var locked = row.querySelectorAll("[data-locked]");
    for (var i = 0; i < locked.length; i += 1) {
      locked[i].disabled = false;
      locked[i].removeAttribute("data-locked");
    }
    var notes = row.querySelectorAll("[data-busy-note]");
    for (var j = 0; j < notes.length; j += 1) notes[j].remove();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var row = rowOf(elt);
    if (row && row.getAttribute("aria-busy") === "true") {
      event.preventDefault(); // the row's change is still running: nothing else starts from it
      return;
    }
    var verb = (event.detail.requestConfig && event.detail.requestConfig.verb) || "get";
    var place = holder(elt);
    var context = {
      elt: elt,
      changing: verb !== "get",
      place: place ? place.id : "",
      row: row,
      next: row && row.nextElementSibling,
      previous: row && row.previousElementSibling,
      table: row && row.closest("table"),
      newest: document.querySelector("#messages .message"),
      opener: elt.getAttribute("hx-get"),
    };
    contexts.set(event.detail.xhr, context);
    if (context.changing && row) lock(row);
  });

  function afterStep(context) {
    var shown = context.place && document.getElementById(context.place);
    if (!shown || !shown.hasAttribute("data-step")) return false;
    // A step opened: remember what opened it, then put focus on its first field or its Cancel.
    if (!context.elt.hasAttribute("data-cancel")) openers[context.place] = context.opener;
    focusOn(shown.querySelector("[data-autofocus]") || shown.querySelector("[data-cancel]"));
    return true;
  }

  function afterCancel(context) {
    var back = context.place && document.getElementById(context.place);
    if (!back) return;
    var url = openers[context.place];
    delete openers[context.place];
    var buttons = back.querySelectorAll("[hx-get]");
    for (var i = 0; i < buttons.length; i += 1) {
      if (buttons[i].getAttribute("hx-get") === url) return focusOn(buttons[i]);
    }
    focusOn(rowOf(back) || back);
  }

  function afterChange(context, xhr) {
    var place = context.place && document.getElementById(context.place);
    var row = (place && (rowOf(place) || place)) || (context.row && context.row.isConnected && context.row);
    if (row) {
      if (row.getAttribute("aria-busy")) unlock(row);
      showOutcome(row, context, xhr);
      focusOn(row);
      return;
    }
    // The row is gone (removed): the next row, else the previous one, else the table.
    var candidates = [context.next, context.previous, context.table];
    for (var i = 0; i < candidates.length; i += 1) {
      var candidate = candidates[i];
      if (candidate && candidate.isConnected && (candidate.tagName !== "TR" || isRow(candidate))) {
        return focusOn(candidate);
      }
    }
  }

  function afterPaging(context) {
    var list = context.elt.closest("[data-paged]") || document.getElementById(context.place);
    var target = context.elt.getAttribute("hx-target");
    var part = target && target.charAt(0) === "#" ? document.querySelector(target) : list;
    if (!part) return;
    var first = part.querySelector("table.grid > tbody > tr");
    focusOn(first && isRow(first) ? first : part.querySelector("caption") || part);
  }

  function settled(context, xhr, successful) {
    if (context.changing) return afterChange(context, xhr);
    if (!successful) return;
    if (context.elt.hasAttribute("data-cancel")) return afterCancel(context);
    if (context.elt.closest("nav.pager")) return afterPaging(context);
    afterStep(context);
  }

  // htmx binds the new content's hx-* attributes when it settles (defaultSettleDelay after the
  // swap): focus moves just after that, so that Enter on the focused button already works.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var context = contexts.get(xhr);
    fadeLater(document);
    if (!context) return;
    contexts.delete(xhr);
    var successful = event.detail.successful;
    var delay = ((window.htmx && window.htmx.config.defaultSettleDelay) || 0) + 1;
    window.setTimeout(function () { settled(context, xhr, successful); }, delay);
  });

  // --- 4. Messages ---------------------------------------------------------------------------

  function levelOf(message) {
    var match = /message-(\w+)/.exec(message.className);
    return match ? match[1] : "info";
  }

  // The newest messages that came with this answer decide what the row says for a moment.
  function showOutcome(row, context, xhr) {
    var levels = [];
    var stack = document.querySelectorAll("#messages .message");
    for (var i = 0; i < stack.length && stack[i] !== context.newest; i += 1) levels.push(levelOf(stack[i]));
    var failed = xhr.status >= 400 || levels.indexOf("error") !== -1;
    var word = failed ? "Not saved: see the message" : levels.indexOf("warning") !== -1 ? "See the message" : "Saved";
    var old = row.querySelectorAll("[data-row-outcome]");
    for (var j = 0; j < old.length; j += 1) old[j].remove();
    var note = document.createElement("span");
    note.className = "row-outcome " + (failed ? "row-outcome-error" : "row-outcome-ok");
    note.setAttribute("data-row-outcome", "");
    note.textContent = word;
    var cells = row.querySelectorAll("td");
    (cells[cells.length - 1] || row).appendChild(note);
    window.setTimeout(function () { note.remove(); }, OUTCOME_MS);
  }

  function dismiss(message) {
    if (!message || !message.isConnected) return;
    var hadFocus = message.contains(document.activeElement);
    var after = message.nextElementSibling || message.previousElementSibling;
    message.remove();
    if (hadFocus) {
      var close = after && after.querySelector("[data-dismiss]");
      focusOn(close || document.getElementById("main"));
    }
  }

  // Successes and news fade after a while (not while the pointer or focus is on them); errors
  // and warnings stay until dismissed.
  function fadeLater(root) {
    var stack = document.getElementById("messages");
    if (!stack) return;
    var delay = parseInt(stack.getAttribute("data-fade-ms") || "0", 10);
    if (!delay) return;
    var found = root.querySelectorAll ? root.querySelectorAll(".message-success, .message-info") : [];
    if (root.matches && root.matches(".message-success, .message-info")) found = [root];
    Array.prototype.forEach.call(found, function (message) {
      if (message.hasAttribute("data-fading")) return;
      message.setAttribute("data-fading", "");
      (function wait() {
        window.setTimeout(function () {
          if (message.matches(":hover, :focus-within")) return wait();
          dismiss(message);
        }, delay);
      })();
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-dismiss]");
    if (button) dismiss(button.closest(".message"));
  });

  // --- 5. Parts that load a few at a time ----------------------------------------------------

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
  document.addEventListener("htmx:load", function (event) {
    queue(event.detail.elt);
    fadeLater(event.detail.elt);
  });
  document.addEventListener("DOMContentLoaded", function () {
    queue(document);
    fadeLater(document);
  });

  // --- 6. Steps outside a row (the invite form) and copy buttons (invitations) ---------------
  // A button marked data-opens-step="ID" opens a step that is not a row: focus goes to the
  // step's data-autofocus field; its Cancel (data-back-to="ID") gives focus back to the opener;
  // after a change, focus goes to what the answer marked data-focus-after (the link to copy, or
  // the new row). A button data-copy="ID" copies that field's value, and says so in words.

  function afterFreeStep(elt, changing) {
    var target = null;
    if (changing) {
      var marked = document.querySelectorAll("[data-focus-after]");
      target = marked.length ? marked[0] : null;
      for (var i = 0; i < marked.length; i += 1) marked[i].removeAttribute("data-focus-after");
    } else if (elt.hasAttribute("data-opens-step")) {
      var step = document.getElementById(elt.getAttribute("data-opens-step"));
      target = step && (step.querySelector("[data-autofocus]") || step.querySelector("[data-cancel]"));
    } else if (elt.hasAttribute("data-back-to")) {
      target = document.getElementById(elt.getAttribute("data-back-to"));
    }
    if (target) focusOn(target);
  }

  // The element a request started from, kept by request: once swapped away, htmx reports the
  // request's end on an ancestor instead.
  var freeSteps = new WeakMap();
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.getAttribute) return;
    var verb = (event.detail.requestConfig && event.detail.requestConfig.verb) || "get";
    var free = elt.hasAttribute("data-opens-step") || elt.hasAttribute("data-back-to");
    var changing = verb !== "get" && elt.closest("#invite-form, [data-testid=invitation-row]");
    if (free || changing) freeSteps.set(event.detail.xhr, { elt: elt, changing: !!changing });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var started = freeSteps.get(event.detail.xhr);
    if (!started || !event.detail.successful) return;
    freeSteps.delete(event.detail.xhr);
    var delay = ((window.htmx && window.htmx.config.defaultSettleDelay) || 0) + 2;
    window.setTimeout(function () { afterFreeStep(started.elt, started.changing); }, delay);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var id = button.getAttribute("data-copy");
    var field = document.getElementById(id);
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (!field) return;
    function said(text) { if (status) status.textContent = text; }
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { said("Copied."); },
        function () { said(document.execCommand("copy") ? "Copied." : "Press Ctrl+C to copy."); }
      );
    } else {
      said(document.execCommand("copy") ? "Copied." : "Press Ctrl+C to copy.");
    }
  });

  // --- 6. Bulk changes: "Select all on this page" ticks (or unticks) every member row's box;
  // ticks outlive paging. A row's box belongs to the bulk panel's form (form="bulk-form"), so
  // the rows of the page on screen send themselves; the user ids ticked on other pages are kept
  // here and sent as hidden fields of the same name, and a page shown again comes back ticked.
  var kept = new Map(); // user id -> ticked (on any page of this organization)

  function syncTicks() {
    var onPage = new Set();
    document.querySelectorAll("input[data-bulk-pick]").forEach(function (pick) {
      onPage.add(pick.value);
      if (kept.has(pick.value)) pick.checked = true;
    });
    var form = document.getElementById("bulk-form");
    var count = 0;
    if (form) {
      form.querySelectorAll("input[data-bulk-kept]").forEach(function (hidden) {
        if (onPage.has(hidden.value) || !kept.has(hidden.value)) hidden.remove();
      });
      kept.forEach(function (_, userId) {
        if (onPage.has(userId)) return;
        count += 1;
        var selector = "input[data-bulk-kept][value=\"" + CSS.escape(userId) + "\"]";
        if (form.querySelector(selector)) return;
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = "pick";
        hidden.value = userId;
        hidden.setAttribute("data-bulk-kept", "");
        form.appendChild(hidden);
      });
      var note = form.querySelector("[data-bulk-kept-count]");
      if (note) {
        note.textContent = count
          ? count + (count === 1 ? " member" : " members") + " ticked on other pages too."
          : "";
        note.hidden = !count;
      }
    }
  }

  function tick(pick, checked) {
    if (checked) kept.set(pick.value, true);
    else kept.delete(pick.value);
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box || !box.matches) return;
    if (box.matches("input[data-bulk-pick]")) {
      tick(box, box.checked);
    } else if (box.matches("[data-select-page]")) {
      var table = box.closest("table");
      if (!table) return;
      table.querySelectorAll("input[data-bulk-pick]").forEach(function (pick) {
        pick.checked = box.checked;
        tick(pick, box.checked);
      });
    } else {
      return;
    }
    syncTicks();
  });
  document.addEventListener("htmx:afterSettle", syncTicks);
})();
