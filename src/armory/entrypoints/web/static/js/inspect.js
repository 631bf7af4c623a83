// The inspection form works without this script; it only keeps the drawing in step with the
// choices: each chamber shows its letter as it is chosen, the chamber being filled in is ringed,
// and touching a chamber on the drawing moves to its row.
(function () {
  "use strict";
  var MARKS = { empty: "E", dummy: "D", blank: "B", spent: "S", live: "L", unknown: "?" };

  function start() {
    var form = document.getElementById("inspection");
    var drawing = document.getElementById("inspect-drawing");
    if (!form || !drawing) { return; }

    function chamberOf(n) { return drawing.querySelector('.chamber[data-chamber="' + n + '"]'); }

    function show(n, content) {
      var g = chamberOf(n);
      if (!g) { return; }
      g.setAttribute("class", "chamber c-" + content);
      var mark = g.querySelector(".mark");
      if (mark) { mark.textContent = MARKS[content] || "?"; }
    }

    form.querySelectorAll('input[type="radio"][name$="-content"]').forEach(function (radio) {
      var n = radio.name.split("-")[0].slice(1);
      if (radio.checked) { show(n, radio.value); }
      radio.addEventListener("change", function () { show(n, radio.value); });
    });

    form.querySelectorAll("fieldset.chamber").forEach(function (set) {
      set.addEventListener("focusin", function () {
        drawing.querySelectorAll(".chamber.current").forEach(function (g) { g.classList.remove("current"); });
        var g = chamberOf(set.dataset.chamber);
        if (g) { g.classList.add("current"); }
      });
    });

    drawing.querySelectorAll(".chamber").forEach(function (g) {
      g.addEventListener("click", function () {
        var set = document.getElementById("chamber-" + g.dataset.chamber);
        if (!set) { return; }
        var target = set.querySelector("input:checked") || set.querySelector("input");
        if (target) { target.focus(); }
        set.scrollIntoView({ block: "center" });
      });
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
