// The map page: the units' boundaries as an ECharts map series, coloured by value; a click on
// a province opens the map of its communes (the table beside it holds the same links).
(function () {
  "use strict";
  var element = document.getElementById("unit-map");
  var source = document.getElementById("unit-map-data");
  if (!element || !source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var format = new Intl.NumberFormat(data.locale === "vi" ? "vi-VN" : "en-GB", {
    maximumFractionDigits: Math.min(data.decimals, 4)
  });
  window.echarts.registerMap("tinhso-units", data.geojson);
  var values = data.geojson.features
    .map(function (f) { return f.properties.value; })
    .filter(function (v) { return v !== null && v !== undefined; });
  var chart = window.echarts.init(element, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    tooltip: {
      trigger: "item",
      formatter: function (item) {
        var value = item.data && item.data.value !== null && item.data.value !== undefined
          ? format.format(item.data.value) + (data.unit ? " " + data.unit : "") : "–";
        return (item.data ? item.data.unitName : item.name) + ": " + value;
      }
    },
    visualMap: values.length ? {
      type: "continuous",
      min: Math.min.apply(null, values),
      max: Math.max.apply(null, values) === Math.min.apply(null, values)
        ? Math.min.apply(null, values) + 1 : Math.max.apply(null, values),
      left: "left", bottom: 0, calculable: false,
      inRange: { color: ["#e8f0fa", "#6f9fd8", "#0b4a8b"] },
      formatter: function (v) { return format.format(v); }
    } : undefined,
    series: [{
      type: "map",
      map: "tinhso-units",
      nameProperty: "code",
      roam: true,
      selectedMode: false,
      itemStyle: { borderColor: "#ffffff", borderWidth: 0.6, areaColor: "#d9e0e8" },
      emphasis: { label: { show: false }, itemStyle: { areaColor: "#ffcd3c" } },
      data: data.geojson.features.map(function (f) {
        return { name: f.properties.code, value: f.properties.value, unitName: f.properties.name };
      })
    }]
  });
  if (data.drill) {
    chart.on("click", function (item) {
      var url = new URL(window.location.href);
      url.searchParams.set("parent", item.name);
      window.location.assign(url.toString());
    });
  }
  window.addEventListener("resize", function () { chart.resize(); });
  element.tinhsoChart = chart;
  element.setAttribute("data-ready", "1");
}());
