// kobo review pages: keyboard shortcuts. Every form and link works without this script.
// List: j/k move between runs, Enter or o opens, x ticks a run, a approves the ticked runs
// (or the current one), r opens the current run to reject it.
// Run page: j/k go to the next/previous run awaiting review, a approves, r goes to the
// reject comment. Keys are ignored while typing in a field.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function go(el) { if (el && el.href) { window.location.href = el.href; } }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.run-row"));
  var current = -1;
  function select(i) {
    if (!rows.length) { return; }
    i = Math.max(0, Math.min(rows.length - 1, i));
    if (current >= 0) { rows[current].classList.remove("current"); }
    current = i;
    rows[i].classList.add("current");
    rows[i].scrollIntoView({ block: "nearest" });
    var link = rows[i].querySelector("a.run-link");
    if (link) { link.focus({ preventScroll: true }); }
  }
  function currentRow() { return current >= 0 ? rows[current] : null; }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) { return; }
    var key = e.key;
    if (rows.length) {
      var row = currentRow();
      if (key === "j") { select(current + 1); }
      else if (key === "k") { select(current < 0 ? 0 : current - 1); }
      else if ((key === "o" || key === "Enter") && row) { go(row.querySelector("a.run-link")); }
      else if (key === "x" && row) {
        var box = row.querySelector("input.pick");
        if (box) { box.checked = !box.checked; }
      } else if (key === "a") {
        var form = document.getElementById("bulk");
        var ticked = document.querySelectorAll("input.pick:checked").length;
        if (!ticked && row) {
          var mine = row.querySelector("input.pick");
          if (mine) { mine.checked = true; ticked = 1; }
        }
        if (form && ticked) { form.submit(); }
      } else if (key === "r" && row) {
        var a = row.querySelector("a.run-link");
        if (a) { window.location.href = a.href + "#comment"; }
      } else { return; }
      e.preventDefault();
      return;
    }
    if (key === "j") { go(document.getElementById("next-run")); }
    else if (key === "k") { go(document.getElementById("prev-run")); }
    else if (key === "a") {
      var approve = document.getElementById("approve-form");
      if (approve) { approve.submit(); } else { return; }
    } else if (key === "r") {
      var comment = document.getElementById("comment");
      if (comment) { comment.focus(); comment.scrollIntoView({ block: "center" }); } else { return; }
    } else { return; }
    e.preventDefault();
  });
  if (window.location.hash === "#comment") {
    var c = document.getElementById("comment");
    if (c) { c.focus(); }
  }
})();
