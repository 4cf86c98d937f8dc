/*
 * Draws the back-office charts with the vendored chart.js (static/vendor/chartjs/).
 *
 * Each <canvas data-chart="ID"> is drawn from the JSON in <script id="ID"
 * type="application/json"> (Django's json_script), shaped by
 * apps/measurements/admin_views.py (ChartSpec.as_json). The same figures are
 * always in an HTML table beside the canvas; without JavaScript the table stays.
 */
(function () {
  "use strict";

  function valueAxis(spec) {
    var axis = {
      beginAtZero: spec.percent === true,
      title: { display: Boolean(spec.valueTitle), text: spec.valueTitle || "" },
    };
    ["min", "max", "suggestedMin", "suggestedMax"].forEach(function (key) {
      if (typeof spec[key] === "number") { axis[key] = spec[key]; }
    });
    if (spec.percent) {
      axis.ticks = { callback: function (value) { return value + " %"; } };
    }
    return axis;
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof window.Chart === "undefined" || canvas.dataset.drawn) { return; }
    var spec = JSON.parse(source.textContent);
    var valueKey = spec.horizontal ? "x" : "y";
    var scales = {};
    scales[valueKey] = valueAxis(spec);
    canvas.dataset.drawn = "1";
    // eslint-disable-next-line no-new
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: scales,
        plugins: {
          legend: { display: spec.datasets.length > 1 },
          tooltip: {
            callbacks: spec.percent ? {
              label: function (item) { return item.dataset.label + ": " + item.formattedValue + " %"; },
            } : {},
          },
        },
      },
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
}());
