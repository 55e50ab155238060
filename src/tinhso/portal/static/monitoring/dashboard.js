// Dashboards: draws each panel's chart from the JSON beside it — a map (map.js'
// window.tinhsoUnitMap) or a series against the target line (an ECharts line with a marked
// line). Only charts that are visible are drawn (a wall screen's hidden dashboards are drawn
// when shown: window.tinhsoDashboard.draw(section)).
(function () {
  "use strict";

  function series(element, data) {
    var locale = data.locale === "vi" ? "vi-VN" : "en-GB";
    var format = new Intl.NumberFormat(locale, { maximumFractionDigits: Math.min(data.decimals, 4) });
    var dark = document.documentElement.classList.contains("wall");
    var text = dark ? "#e8eef6" : "#1f2933";
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    var line = { type: "line", name: data.value_label, data: data.values, connectNulls: true,
      symbolSize: 8, lineStyle: { width: 3, color: dark ? "#7fb5ff" : "#0b4a8b" },
      itemStyle: { color: dark ? "#7fb5ff" : "#0b4a8b" } };
    if (data.target !== null && data.target !== undefined) {
      line.markLine = {
        symbol: "none",
        lineStyle: { type: "dashed", width: 2, color: dark ? "#ffd166" : "#a4161a" },
        label: { position: "insideEndTop", formatter: data.target_label + ": " + format.format(data.target), color: text },
        data: [{ yAxis: data.target }]
      };
    }
    chart.setOption({
      animation: false,
      grid: { left: 60, right: 30, top: 30, bottom: 40 },
      tooltip: { trigger: "axis", valueFormatter: function (v) {
        return v === null || v === undefined ? "–" : format.format(v) + (data.unit ? " " + data.unit : "");
      } },
      xAxis: { type: "category", data: data.periods, axisLabel: { color: text } },
      yAxis: { type: "value", axisLabel: { color: text, formatter: function (v) { return format.format(v); } },
        max: function (range) { return data.target !== null && data.target > range.max ? data.target : null; } },
      series: [line]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.tinhsoChart = chart;
    element.setAttribute("data-ready", "1");
    return chart;
  }

  function draw(root) {
    if (!window.echarts) { return; }
    var charts = (root || document).querySelectorAll("[data-dash-chart]");
    Array.prototype.forEach.call(charts, function (element) {
      if (element.getAttribute("data-ready") === "1" || element.offsetParent === null) { return; }
      var source = element.nextElementSibling;
      if (!source || !source.classList.contains("dash-chart-data")) { return; }
      var data = JSON.parse(source.textContent);
      if (data.type === "map" && window.tinhsoUnitMap) { window.tinhsoUnitMap(element, data); }
      else if (data.type === "timeseries") { series(element, data); }
    });
  }

  window.tinhsoDashboard = { draw: draw };
  draw(document);
}());
