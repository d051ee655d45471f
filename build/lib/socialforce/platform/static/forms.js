// Small helpers every form gets (pages work the same without them):
// - a counter "n / limit" under every text field with a maxlength;
// - the week grid's presets (weekday mornings, weekends, evenings) tick the grid's checkboxes.
(function () {
  "use strict";
  var template = document.body.getAttribute("data-counter-text") || "{n} / {max}";

  function counterFor(field) {
    var max = parseInt(field.getAttribute("maxlength"), 10);
    if (!max || field.type === "hidden" || field.type === "password") { return; }
    var counter = document.createElement("div");
    counter.className = "form-text text-end char-counter";
    counter.setAttribute("aria-live", "polite");
    var update = function () {
      var n = field.value.length;
      counter.textContent = template.replace("{n}", n).replace("{max}", max);
      counter.classList.toggle("text-danger", n >= max);
    };
    field.addEventListener("input", update);
    update();
    var anchor = field.nextElementSibling && field.nextElementSibling.classList.contains("invalid-feedback")
      ? field.nextElementSibling : field;
    anchor.insertAdjacentElement("afterend", counter);
  }

  document.querySelectorAll("input[maxlength], textarea[maxlength]").forEach(counterFor);

  document.querySelectorAll("[data-week-presets]").forEach(function (box) {
    box.hidden = false;
    var grid = document.querySelector("[data-week-grid='" + box.getAttribute("data-week-presets") + "']");
    box.querySelectorAll("button[data-bits]").forEach(function (button) {
      button.addEventListener("click", function () {
        var bits = button.getAttribute("data-bits").split(" ");
        grid.querySelectorAll("input[type=checkbox]").forEach(function (cb) {
          cb.checked = bits.indexOf(cb.value) !== -1;
        });
      });
    });
  });
})();
