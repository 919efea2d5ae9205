// Drag and drop on the board. Without JavaScript every card keeps its "Move…" form; with it,
// SortableJS posts the same form fields (status, 1-based position) to the same endpoint, and
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
        filter: "details, summary, input, select, button",
        preventOnFilter: false,
        onEnd: function (event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) return;
          var item = event.item;
          var url = moveUrl.replace(/\/0\/move$/, "/" + item.id.replace("task-", "") + "/move");
          htmx.ajax("POST", url, {
            source: item,
            target: "#board",
            swap: "outerHTML",
            values: { status: event.to.dataset.status, position: event.newIndex + 1 },
          });
        },
      });
    });
  }

  // SortableJS animates the cards with inline transform/transition styles, and while htmx settles
  // a swap it copies each old element's attributes, "style" included, onto the new element with
  // the same id: the CSP (style-src 'self') refuses that copy, a console error on every drop. The
  // board has no inline style of its own, so the old one loses them before it is swapped out.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "board") return;
    target.querySelectorAll("[style]").forEach(function (element) {
      element.removeAttribute("style");
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof htmx !== "undefined") {
      htmx.onLoad(initBoard);
    } else {
      initBoard(document);
    }
  });
})();
