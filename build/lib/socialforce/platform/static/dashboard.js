/* Draws each dashboard chart from the table printed under it (no inline scripts: CSP). */
(function () {
  "use strict";
  var COLOURS = ["#0d6efd", "#fd7e14", "#198754", "#6c757d", "#6f42c1", "#20c997", "#dc3545", "#ffc107"];

  function number(cell) {
    var value = parseFloat(cell.getAttribute("data-value"));
    return isNaN(value) ? null : value;
  }

  function draw(canvas) {
    var table = document.getElementById(canvas.getAttribute("data-source"));
    if (!table || typeof Chart === "undefined") { return; }
    var type = canvas.getAttribute("data-chart");
    var columns = canvas.getAttribute("data-columns").split(",").map(Number);
    var stacked = canvas.getAttribute("data-stacked") === "true";
    var headers = table.querySelectorAll("thead th");
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var labels = rows.map(function (row) { return row.cells[0].textContent.trim(); });
    var datasets = columns.map(function (column, i) {
      return {
        label: headers[column].textContent.trim(),
        data: rows.map(function (row) { return number(row.cells[column]); }),
        backgroundColor: type === "doughnut" ? COLOURS : COLOURS[i % COLOURS.length]
      };
    });
    var options = {responsive: true, aspectRatio: window.innerWidth < 576 ? 1.2 : 2,
                   plugins: {legend: {display: type === "doughnut" || datasets.length > 1}}};
    if (type === "bar") {
      options.scales = {x: {stacked: stacked}, y: {stacked: stacked, beginAtZero: true}};
    }
    new Chart(canvas, {type: type, data: {labels: labels, datasets: datasets}, options: options});
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
