// Exchanges per day: a bar chart of exchanges with errors, data from the page's JSON block.
(function () {
  "use strict";
  var holder = document.getElementById("exchange-chart");
  var source = document.getElementById("exchange-chart-data");
  if (!holder || !source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var chart = echarts.init(holder, null, { renderer: "canvas" });
  var vi = function (n) { return Number(n).toLocaleString("vi-VN"); };
  chart.setOption({
    tooltip: { trigger: "axis", valueFormatter: vi },
    legend: { data: [data.labels.exchanges, data.labels.errors] },
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    xAxis: { type: "category", data: data.days },
    yAxis: { type: "value", axisLabel: { formatter: vi } },
    series: [
      { name: data.labels.exchanges, type: "bar", data: data.exchanges, itemStyle: { color: "#1f5fa8" } },
      { name: data.labels.errors, type: "bar", data: data.errors, itemStyle: { color: "#b42318" } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
