/* Monitoring pages: ECharts charts fed by <script type="application/json"> blocks. */
(function () {
  "use strict";

  var lang = document.documentElement.lang || "vi";

  function viNumber(value, decimals) {
    if (value === null || value === undefined || isNaN(value)) { return "–"; }
    var fixed = Number(value).toFixed(decimals === undefined ? 2 : decimals);
    var parts = fixed.split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    var fraction = (parts[1] || "").replace(/0+$/, "");
    return fraction ? whole + "," + fraction : whole;
  }

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var charts = [];
  function chartOn(id) {
    var node = document.getElementById(id);
    if (!node || typeof echarts === "undefined") { return null; }
    var chart = echarts.init(node, null, { renderer: "canvas" });
    charts.push(chart);
    return chart;
  }

  // Ten distinct colours (pillars, units), readable on white.
  var PALETTE = ["#0b4a8b", "#17683a", "#b7791f", "#6b46c1", "#0e7490", "#be185d", "#4d7c0f", "#9a3412", "#334155", "#c8102e"];

  var STATUS_COLOURS = {
    achieved: "#17683a", on_track: "#0b4a8b", behind: "#d08a00",
    not_achieved: "#a4161a", insufficient_data: "#98a3b1", no_data: "#c7cfd9"
  };

  function statusChart() {
    var spec = data("status-chart-data");
    var chart = chartOn("status-chart");
    if (!spec || !chart) { return; }
    var items = [];
    for (var i = 0; i < spec.keys.length; i++) {
      if (spec.values[i] > 0) {
        items.push({ name: spec.labels[i], value: spec.values[i], itemStyle: { color: STATUS_COLOURS[spec.keys[i]] } });
      }
    }
    chart.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: function (p) { return p.name + ": " + p.value + " (" + viNumber(p.percent, 1) + " %)"; } },
      series: [{
        type: "pie", radius: ["48%", "78%"], avoidLabelOverlap: true,
        label: { formatter: "{c}", fontWeight: "bold" }, data: items
      }]
    });
  }

  function indicatorChart() {
    var spec = data("indicator-chart-data");
    var chart = chartOn("indicator-chart");
    if (!spec || !chart) { return; }
    var series = spec.series.map(function (s) {
      return { name: s.name, type: "line", data: s.data, connectNulls: true, symbolSize: 7, lineStyle: { width: 2.5 } };
    });
    var lines = [], areas = [], bounds = [], byValue = {};
    spec.targets.forEach(function (t) {
      [t.value, t.low, t.high].forEach(function (b) { if (b !== null) { bounds.push(b); } });
      var label = t.label + " (" + t.plan + ")";
      if (t.low !== null && t.high !== null) {
        areas.push([{ name: label + ": " + viNumber(t.low, spec.decimals) + "–" + viNumber(t.high, spec.decimals), yAxis: t.low }, { yAxis: t.high }]);
      } else {
        var value = t.value !== null ? t.value : (t.low !== null ? t.low : t.high);
        // Targets at the same value share one line and one label.
        if (byValue[value] === undefined) {
          byValue[value] = { name: label, yAxis: value };
          lines.push(byValue[value]);
        } else {
          byValue[value].name += "; " + label;
        }
      }
    });
    if (series.length && (lines.length || areas.length)) {
      series[0].markLine = {
        symbol: "none", silent: false, data: lines,
        lineStyle: { type: "dashed", color: "#c8102e", width: 2 },
        label: { formatter: function (p) { return p.name + ": " + viNumber(p.value, spec.decimals); }, position: "insideEndTop", color: "#c8102e" }
      };
      series[0].markArea = {
        silent: true, data: areas, itemStyle: { color: "rgba(200, 16, 46, 0.08)" },
        label: { color: "#c8102e", position: "insideTopRight" }
      };
    }
    chart.setOption({
      animation: false,
      color: PALETTE,
      tooltip: { trigger: "axis", valueFormatter: function (v) { return viNumber(v, spec.decimals) + " " + spec.unit; } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 64, right: 32, top: 48, bottom: 40 },
      xAxis: { type: "category", data: spec.periods, boundaryGap: false },
      yAxis: {
        type: "value", name: spec.unit, scale: true,
        // Keep the target line or band in view even when the values are far from it.
        min: function (v) { return bounds.length ? Math.floor(Math.min(v.min, Math.min.apply(null, bounds))) : v.min; },
        max: function (v) { return bounds.length ? Math.ceil(Math.max(v.max, Math.max.apply(null, bounds))) : v.max; },
        axisLabel: { formatter: function (v) { return viNumber(v, 2); } }
      },
      series: series
    });
  }

  function indexChart() {
    var spec = data("index-chart-data");
    var chart = chartOn("index-chart");
    if (!spec || !chart) { return; }
    var node = document.getElementById("index-chart");
    node.style.height = Math.max(220, 90 + spec.units.length * 34) + "px";
    chart.resize();
    chart.setOption({
      animation: false,
      color: PALETTE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return viNumber(v, 2); } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 140, right: 32, top: 40, bottom: 32 },
      xAxis: { type: "value", axisLabel: { formatter: function (v) { return viNumber(v, 0); } } },
      yAxis: { type: "category", data: spec.units, inverse: true },
      series: spec.pillars.map(function (p) { return { name: p.name, type: "bar", stack: "total", data: p.data }; })
    });
  }

  function autosubmit() {
    var selects = document.querySelectorAll("select[data-autosubmit]");
    Array.prototype.forEach.call(selects, function (select) {
      select.addEventListener("change", function () { if (select.form) { select.form.submit(); } });
    });
  }

  function start() {
    statusChart();
    indicatorChart();
    indexChart();
    autosubmit();
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
