// Drag and drop on the board. Without JavaScript each card's "Move…" link leads to the task's
// "Move to…" form; with it, SortableJS posts the same form fields (status, 1-based position) to the same endpoint, and
// htmx swaps in the board the server answers with, so the server's order is what you see.
(function () {
  "use strict";

  function initBoard(root) {
    var board = root.querySelector ? root.querySelector(".board") : null;
    if (!board && root.classList && root.classList.contains("board")) board = root;
    if (!board || board.dataset.editable !== "true" || typeof Sortable === "undefined") return;
    var moveUrl = board.dataset.moveUrl;
    board.querySelectorAll(".task-list").forEach(function (list) {
      Sortable.create(list, {
        group: "tasks",
        animation: 120,
        // On a touchscreen a finger that lands on a card and moves at once is scrolling the page:
        // only a finger that rests on a card for a moment picks it up (moving less than 5 px
        // meanwhile: a resting finger trembles). The mouse drags at once.
        delay: 200,
        delayOnTouchOnly: true,
        touchStartThreshold: 5,
        filter: "details, summary, input, select, button",
        preventOnFilter: false,
        onEnd: function (event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) return;
          var item = event.item;
          var url = moveUrl.replace("/tasks/0/move", "/tasks/" + item.id.replace("task-", "") + "/move");
          // The neighbours say where it landed: a board filtered by étape shows only some cards
          // of each column, so the index among them is not the card's place in the column.
          var values = { status: event.to.dataset.status, position: event.newIndex + 1 };
          var next = item.nextElementSibling, previous = item.previousElementSibling;
          if (next) values.before = next.id.replace("task-", "");
          else if (previous) values.after = previous.id.replace("task-", "");
          htmx.ajax("POST", url, { source: item, target: "#board", swap: "outerHTML", values: values });
        },
      });
    });
  }

  // Étapes are dragged the same way (etapes/_etapes.html): the list posts the étape's new place
  // (1-based) to the étape's "move" address, and htmx swaps in the tab the server answers with.
  function initEtapes(root) {
    var list = root.querySelector ? root.querySelector(".etape-list[data-move-url]") : null;
    if (!list || typeof Sortable === "undefined") return;
    var moveUrl = list.dataset.moveUrl;
    Sortable.create(list, {
      animation: 120,
      handle: ".drag-handle",
      onEnd: function (event) {
        if (event.oldIndex === event.newIndex) return;
        var item = event.item;
        var url = moveUrl.replace("/etapes/0/move", "/etapes/" + item.id.replace("etape-", "") + "/move");
        htmx.ajax("POST", url, { source: item, target: "#etapes-tab", swap: "outerHTML", values: { position: event.newIndex + 1 } });
      },
    });
  }

  // If the server refuses or fails a move, htmx swaps nothing and the cards would stay where the
  // drag left them, an order the server never saved: fetch the board as the server has it.
  document.addEventListener("htmx:responseError", function (event) {
    var board = document.querySelector("#board .board");
    var path = event.detail.pathInfo.requestPath;
    if (board && /\/tasks\/\d+\/move(\?|$)/.test(path)) {
      htmx.ajax("GET", board.dataset.boardUrl, { target: "#board", swap: "outerHTML" });
    } else if (document.getElementById("etapes-tab") && /\/etapes\/\d+\/move$/.test(path)) {
      htmx.ajax("GET", path.replace(/\/\d+\/move$/, ""), { target: "#etapes-tab", swap: "outerHTML" });
    }
  });

  // After an htmx swap the server says (HX-Trigger-After-Settle, xtablo/web/htmx.py) where the
  // keyboard focus goes, so it does not fall to <body>, and what to announce to screen readers.
  document.addEventListener("xtablo:focus", function (event) {
    var target = document.querySelector(event.detail.value);
    if (!target) return;
    // The message box after a send: only if the person is still at the form (its Send button,
    // or nowhere), not if they went on elsewhere while it was on its way.
    var form = target.closest("#message-form"), at = document.activeElement;
    if (form && at && at !== document.body && !form.contains(at)) return;
    target.focus();
  });
  document.addEventListener("xtablo:announce", function (event) {
    var announcer = document.getElementById("announcer");
    if (!announcer) return;
    // Emptied first, so that the same sentence twice in a row is announced twice.
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = event.detail.value; }, 50);
  });

  // A form posted the classic way (not htmx, which has its own hx-sync) goes once: Enter pressed
  // again, or a second click, while a slow server has not answered would post it a second time
  // (two events, two tablos). A while later (the person stopped the page, or the network gave
  // up) it may go again, and a page the browser brings back from its memory starts afresh.
  var POSTED_FOR = 10000;  // ms
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.method || form.method.toLowerCase() !== "post") return;
    var last = Number(form.dataset.postedAt || 0);
    if (Date.now() - last < POSTED_FOR) {
      event.preventDefault();
      return;
    }
    form.dataset.postedAt = String(Date.now());
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-posted-at]").forEach(function (form) { delete form.dataset.postedAt; });
  });

  // "Copy" buttons (the calendar feed's address): copy the field they name, and say so.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    var status = button.dataset.copyStatus ? document.querySelector(button.dataset.copyStatus) : null;
    var done = function () {
      document.dispatchEvent(new CustomEvent("xtablo:announce", { detail: { value: button.dataset.copied } }));
      if (status) status.textContent = button.dataset.copied;  // the announcer is not seen
    };
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // The browser's time zone, for the account's on its first sign-in (xtablo/sessions.py): a
  // cookie rather than a field, so that every way in (password, Google, Apple) gets it. Written
  // as it is, not percent-encoded: the server reads cookies without decoding them, so
  // "Europe%2FParis" would name no zone and the account would stay in UTC. IANA names only hold
  // characters a cookie may carry; anything else is not a zone and is left out.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone)) document.cookie = "xtablo_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
  } catch (error) { /* an old browser: the account stays in UTC until its owner chooses */ }

  // The chat (chat/_message.html): each message draws its Edit and Delete controls hidden unless
  // the reader may use them; the same check here lets one rendering serve every reader (the
  // messages the real-time stream brings). The server checks again on every post.
  function initMessages(root) {
    var list = document.getElementById("messages");
    if (!list || !root.querySelectorAll) return;
    var me = list.dataset.readerId, owner = list.dataset.readerOwner === "true";
    var items = Array.prototype.slice.call(root.querySelectorAll(".message[data-author-id]"));
    if (root.matches && root.matches(".message[data-author-id]")) items.push(root);
    items.forEach(function (item) {
      var mine = item.dataset.authorId !== "" && item.dataset.authorId === me;
      item.querySelectorAll("[data-mine]").forEach(function (el) { el.hidden = !mine; });
      item.querySelectorAll("[data-mine-or-owner]").forEach(function (el) { el.hidden = !(mine || owner); });
    });
    document.querySelectorAll(".message-form [data-js-only]").forEach(function (el) { el.hidden = false; });
    // With JavaScript, Enter sends: the box says so (unless it describes an error just now).
    var box = document.getElementById("message-body");
    if (box && document.getElementById("message-hint") && !box.hasAttribute("aria-describedby")) box.setAttribute("aria-describedby", "message-hint");
  }

  // A message that is already in the list (a resend answered with the message stored the first
  // time, or later the stream's copy of one's own message) replaces it rather than being added.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "messages" || !event.detail.serverResponse) return;
    var template = document.createElement("template");
    template.innerHTML = event.detail.serverResponse;
    var incoming = template.content.querySelector(".message[id]");
    var existing = incoming ? document.getElementById(incoming.id) : null;
    if (existing) {
      event.detail.target = existing;
      event.detail.swapOverride = "outerHTML";
    }
  });

  // The chat's stream (chat/index.html, htmx's SSE extension; xtablo/blueprints/chat/stream.py).
  // A message already on the page is replaced by the stream's copy: the author's own, answered
  // to their post too, or one edited or deleted. A change of a message the page does not show
  // (an older one) is left out; a new message is added at the end (the list's sse-swap). The
  // id of the last change received is kept, for a stream opened again (below).
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var message = event.detail, list = document.getElementById("messages");
    if (list && message.lastEventId) list.dataset.lastEventId = message.lastEventId;
    var template = document.createElement("template");
    template.innerHTML = message.data;
    var incoming = template.content.querySelector(".message[id]");
    var existing = incoming ? document.getElementById(incoming.id) : null;
    if (existing) {
      event.preventDefault();
      htmx.swap(existing, message.data, { swapStyle: "outerHTML" });
    } else if (!incoming || message.type !== "message-created") {
      event.preventDefault();
    }
  });
  // "Load older messages": the older ones go above the reader's place, which stays where it is
  // on the screen (the link they replace was the anchor a browser keeps in place, so it cannot).
  var olderAnchor = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!event.detail.elt.closest || !event.detail.elt.closest("#older-messages")) return;
    var first = document.querySelector("#messages > .message");
    olderAnchor = first ? { item: first, top: first.getBoundingClientRect().top, link: event.detail.elt } : null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    // Only the swap of that request: a message the stream swaps in meanwhile is not it.
    var config = event.detail.requestConfig;
    if (!olderAnchor || !config || config.elt !== olderAnchor.link) return;
    window.scrollBy(0, olderAnchor.item.getBoundingClientRect().top - olderAnchor.top);
    olderAnchor = null;
  });

  // The chat says when it is not live (the stream is reconnecting) and when a send failed (no
  // connection, or a refusal such as a session that ended: the form's text stays in the box).
  // Once the chat knows it is over for this page (signed out, no longer a member), that stays
  // said: a send refused afterwards would only say to reload.
  var chatOver = false;
  function chatStatus(kind) {
    var status = document.getElementById("chat-status");
    if (!status || chatOver) return;
    chatOver = kind === "signedOut" || kind === "gone";
    status.hidden = !kind;
    status.classList.toggle("flash-error", !!kind && kind !== "reconnecting");
    status.textContent = kind ? status.dataset[kind] : "";
  }
  // When the browser gives up on the stream (refused, or the server down), the chat asks the
  // stream's address why (HEAD: access is checked, nothing is held): signed out, or no longer a
  // member (or the tablo deleted), it says so and stops trying; else it keeps reconnecting.
  document.addEventListener("htmx:sseError", function (event) {
    chatStatus("reconnecting");
    var list = document.getElementById("messages"), source = event.detail.source;
    if (!list || event.detail.elt !== list || !source || source.readyState !== EventSource.CLOSED) return;
    fetch(source.url, { method: "HEAD", credentials: "same-origin", redirect: "manual", cache: "no-store" })
      .then(function (response) {
        var why = response.type === "opaqueredirect" || response.status === 401 ? "signedOut"
                : response.status === 403 || response.status === 404 ? "gone" : null;
        if (!why) return;
        list.removeAttribute("sse-connect");  // the extension's next try finds no address
        chatStatus(why);
      }, function () { /* no connection: the extension tries again */ });
  });
  document.addEventListener("htmx:sseOpen", function () {
    var status = document.getElementById("chat-status");
    if (status && !status.classList.contains("flash-error")) chatStatus(null);
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (event.detail.elt && event.detail.elt.id === "message-form") chatStatus("offline");
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.elt && event.detail.elt.id === "message-form") chatStatus("failed");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "message-form" && event.detail.successful) chatStatus(null);
  });
  // Someone else's new message is read out (the author, then the text), as the list is not a
  // live region: loading older messages would read fifty at once.
  document.addEventListener("htmx:sseMessage", function (event) {
    var list = document.getElementById("messages");
    if (event.detail.type !== "message-created" || !list) return;
    var template = document.createElement("template");
    template.innerHTML = event.detail.data;
    var item = template.content.querySelector(".message[data-author-id]");
    if (!item || item.dataset.authorId === list.dataset.readerId) return;
    var author = item.querySelector(".message-author"), body = item.querySelector(".message-body");
    var said = (author ? author.textContent.trim() + ": " : "") + (body ? body.textContent.trim() : "");
    document.dispatchEvent(new CustomEvent("xtablo:announce", { detail: { value: said.slice(0, 300) } }));
  });

  // A message the stream adds while the tab is in view is read: the server is told, at most
  // every 2 s, the last one seen (chat.read), so "My tablos" does not count it as unread. One
  // that came while the tab was hidden is read when it is shown again.
  var readTimer = null, unseen = false;
  function markRead() {
    readTimer = null;
    var list = document.getElementById("messages");
    var last = list ? list.querySelector(".message[id]:last-child") : null;
    if (!last || !list.dataset.readUrl) return;
    if (document.visibilityState !== "visible") { unseen = true; return; }
    unseen = false;
    var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    fetch(list.dataset.readUrl, { method: "POST", headers: headers, credentials: "same-origin",
                                  body: "up_to=" + encodeURIComponent(last.id.replace("message-", "")) })
      .catch(function () { unseen = true; });
  }
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail.type === "message-created" && !readTimer) readTimer = setTimeout(markRead, 2000);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && unseen && !readTimer) readTimer = setTimeout(markRead, 500);
  });

  // "3 minutes ago" is said again every half-minute while the chat is open, as the server would
  // say it then (`ago` in xtablo/web/dates.py: "just now" under 45 s, then Babel's units, its
  // 0.85 threshold and Python's rounding), in the page's language; the exact time stays in the
  // title. Measured on the server's clock (the list's data-now), not on a browser's that is off.
  var AGO_UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
                   ["hour", 3600], ["minute", 60], ["second", 1]];
  var clockSkew = null;
  function sayAgo(seconds, format, justNow) {
    if (seconds < 45) return justNow;
    for (var i = 0; i < AGO_UNITS.length; i++) {
      var value = seconds / AGO_UNITS[i][1];
      if (value < 0.85) continue;
      var rounded = Math.round(value);
      if (value % 1 === 0.5 && rounded % 2) rounded -= 1;  // half to even, as Python's round()
      return format.format(-Math.max(1, rounded), AGO_UNITS[i][0]);
    }
    return justNow;
  }
  function sayTimesAgain() {
    var list = document.getElementById("messages");
    if (!list || !list.dataset.justNow || typeof Intl === "undefined" || !Intl.RelativeTimeFormat) return;
    if (clockSkew === null) clockSkew = Date.now() - (Date.parse(list.dataset.now) || Date.now());
    var format = new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "always" });
    var now = Date.now() - clockSkew;
    list.querySelectorAll(".message-meta time[datetime]").forEach(function (time) {
      var at = Date.parse(time.getAttribute("datetime"));
      if (!isNaN(at)) time.textContent = sayAgo(Math.max(0, (now - at) / 1000), format, list.dataset.justNow);
    });
  }
  sayTimesAgain();  // (app.js is deferred: the page is there, just drawn, to measure the skew by)
  window.setInterval(sayTimesAgain, 30000);
  // (and after every swap that brings messages: the stream's, the answer to a send, older ones.
  // Their words are the server's when it drew them, which may be minutes before they land: an
  // answer to one's own send comes after the stream's copy of it, on a slow network. Said once
  // per swap, however many elements it brought.)
  var sayingSoon = false;
  document.addEventListener("htmx:afterSwap", function () {
    if (sayingSoon) return;
    sayingSoon = true;
    Promise.resolve().then(function () { sayingSoon = false; sayTimesAgain(); });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") sayTimesAgain();
  });

  // The browser resumes a dropped stream by itself (its Last-Event-ID); when it gives up (the
  // server was down), the extension opens a new one at the page's address, which names the last
  // change the page was drawn with: it then starts from the last one received instead.
  if (typeof htmx !== "undefined" && htmx.createEventSource) {
    htmx.createEventSource = function (url) {
      var list = document.getElementById("messages");
      var last = list ? list.dataset.lastEventId : "";
      if (last) url = url.replace(/([?&]last_event_id=)\d*/, "$1" + last);
      return new EventSource(url, { withCredentials: true });
    };
  }

  // In the message box, Enter sends and Shift+Enter starts a new line (not while an input
  // method is composing a character).
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || !box.matches || !box.matches("textarea[data-enter-sends]")) return;
    event.preventDefault();
    if (box.form && box.value.trim() !== "") box.form.requestSubmit();
  });

  // Sending a message empties the box at once, as in any chat, so that the next one can be typed
  // while the first is on its way; the box itself stays (the answer brings only the form's next
  // key), so what is typed, the caret and an input method's composition are left alone. One send
  // goes at a time (the form's hx-sync): a message sent meanwhile waits in `queue`, each its own,
  // and goes when the one before is answered. A refused one (too long, nothing visible) comes
  // back to the box with what is wrong, and those waiting after it go on; a send that fails (no
  // connection, signed out, the server failing) gives everything back, one per line: its text,
  // those waiting, then what was typed since. Nothing is lost.
  var sending = null, sentAt = 0, sentFrom = null, sentOwn = false, typed = "", queue = [], next = null;
  var releasing = false;  // the page itself sends the next waiting message
  function isMessageForm(event) {  // (htmx:beforeSwap is the swap target's: the list, or the fields)
    var elt = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
    return !!elt && elt.id === "message-form";
  }
  function lines(texts) {
    return texts.filter(function (text) { return text.trim() !== ""; }).join("\n");
  }
  function sendNext(box) {
    if (!queue.length) return;
    next = queue.shift();
    // (once htmx has let go of this request: until then, the form's hx-sync drops a new one)
    window.setTimeout(function () {
      releasing = true;
      try { box.form.requestSubmit(); } finally { releasing = false; }
    }, 0);
  }
  document.addEventListener("submit", function (event) {
    var box = document.getElementById("message-body");
    // Busy from the send until the next waiting one is on its way: an Enter in between waits too.
    if (event.target.id !== "message-form" || (sending === null && next === null) || releasing || !box) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (box.value.trim() === "") return;
    queue.push(box.value);
    box.value = "";
  }, true);
  document.addEventListener("htmx:configRequest", function (event) {
    if (isMessageForm(event) && next !== null) event.detail.parameters.set("body", next);
  });
  document.addEventListener("htmx:beforeSend", function (event) {
    var box = document.getElementById("message-body");
    if (!isMessageForm(event) || !box) return;
    sentFrom = box;
    sentAt = Date.now();
    sentOwn = next === null;
    if (sentOwn) {
      sending = box.value;  // already read into the request
      box.value = "";
    } else {  // a message that waited: the box holds what is typed now
      sending = next;
      next = null;
    }
  });
  // Signed out meanwhile (from another browser): htmx would follow the answer's HX-Redirect to
  // the sign-in page, and the texts would go with this page. The page stays, and says so.
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    if (isMessageForm(event) && event.detail.xhr && event.detail.xhr.status === 401) event.preventDefault();
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var box = document.getElementById("message-body");
    if (isMessageForm(event) && box) typed = box.value;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = document.getElementById("message-body");
    if (!isMessageForm(event) || sending === null || !box) return;
    var status = event.detail.xhr ? event.detail.xhr.status : 0, swapped = box !== sentFrom;
    if (status >= 200 && status < 300) {
      if (sentOwn && box.getAttribute("aria-invalid") === "true") forgetRefusal(box);
    } else if (status === 422 && swapped) {
      box.value = lines([box.value, typed]);  // the server's answer holds the text, and what is wrong
    } else {
      box.value = lines([sending].concat(queue, [box.value]));
      queue = [];
      if (status === 401) chatStatus("signedOut");
    }
    sending = null;
    sentFrom = null;
    typed = "";
    sendNext(box);
  });
  // Leaving the page while messages wait to go (or one is slow to be answered) asks first.
  window.addEventListener("beforeunload", function (event) {
    if (!queue.length && (sending === null || Date.now() - sentAt < 1000)) return;
    event.preventDefault();
    event.returnValue = "";
  });
  // After a refused send, the next one that goes takes the error away, as the server would draw
  // the form: no error, the box described by its hint.
  function forgetRefusal(box) {
    ["message-body-error", "message-client-key-error"].forEach(function (id) {
      var error = document.getElementById(id);
      if (error) error.remove();
    });
    box.removeAttribute("aria-invalid");
    if (box.closest(".field")) box.closest(".field").classList.remove("has-error");
    if (document.getElementById("message-hint")) box.setAttribute("aria-describedby", "message-hint");
    else box.removeAttribute("aria-describedby");
  }

  document.addEventListener("DOMContentLoaded", function () {
    // A page that came back with errors (a form posted without htmx): start at the first field
    // to fix, which also brings it into view.
    var invalid = document.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    // On a narrow screen the tabs scroll sideways: the current one is brought into view.
    var tabs = document.querySelector(".tabs"), tab = tabs ? tabs.querySelector("[aria-current]") : null;
    if (tab && tabs.scrollWidth > tabs.clientWidth) tabs.scrollLeft += tab.getBoundingClientRect().left - tabs.getBoundingClientRect().left - (tabs.clientWidth - tab.offsetWidth) / 2;
    // The Chat tab opens on its latest messages, the message box in view just below them.
    var box = document.querySelector("#messages[data-latest] ~ .message-form");
    if (box && !invalid && !window.location.hash) box.scrollIntoView({ block: "end" });
    // Apple's answer, posted again from this site so that it carries the session (auth/oauth_relay.html).
    var relay = document.querySelector("form[data-autosubmit]");
    // (requestSubmit sends a submit event, so the button pressed meanwhile does not post it again)
    if (relay) relay.requestSubmit ? relay.requestSubmit() : relay.submit();
    if (typeof htmx !== "undefined") {
      htmx.onLoad(initBoard);
      htmx.onLoad(initEtapes);
      htmx.onLoad(initMessages);
    } else {
      initBoard(document);
    }
  });
})();
