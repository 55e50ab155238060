// The map page: the units' boundaries registered as an ECharts map and drawn by a map series
// on a shared geo component, coloured by value (a continuous scale) or by % of the target (the
// status colours, one legend entry per status); units with no stored boundary are points at
// their centres (a scatter series on the same geo). A click on a province opens the map of its
// communes (the table beside it holds the same links, values, targets and statuses).
// Dashboards draw the same map with `window.tinhsoUnitMap(element, data)`; there a click picks
// the unit (`data.pick`: the query parameter it sets) for the other panels instead of drilling.
(function () {
  "use strict";
  var maps = 0;

  function draw(element, data) {
    var mapName = "tinhso-units-" + (maps += 1);
    var locale = data.locale === "vi" ? "vi-VN" : "en-GB";
    var format = new Intl.NumberFormat(locale, { maximumFractionDigits: Math.min(data.decimals, 4) });
    var percentFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
    var STATUS_COLOURS = {
      achieved: "#17683a", on_track: "#0b4a8b", behind: "#d08a00",
      not_achieved: "#a4161a", insufficient_data: "#98a3b1", no_data: "#c7cfd9"
    };
    var EMPTY = "#d9e0e8";
    var byTarget = data.mode === "target";
    var statusIndex = {};
    data.statuses.forEach(function (s, i) { statusIndex[s.key] = i; });

    var polygons = [];
    var points = [];
    data.geojson.features.forEach(function (f) {
      if (!f.geometry) { return; }
      (f.geometry.type === "Point" ? points : polygons).push(f);
    });

    function measure(p) {
      if (byTarget) { return p.status ? statusIndex[p.status] : null; }
      return p.value === null || p.value === undefined ? null : p.value;
    }
    function withUnit(v) { return format.format(v) + (data.unit ? " " + data.unit : ""); }
    function tooltip(item) {
      var p = item.data && item.data.properties;
      if (!p) { return item.name; }
      var lines = ["<strong>" + p.name + "</strong>"];
      lines.push(data.labels.value + ": " + (p.value === null ? data.labels.no_value : withUnit(p.value)));
      if (p.target !== null) {
        lines.push(data.labels.target + " " + p.target_year + ": " + withUnit(p.target));
        if (p.percent !== null) { lines.push(data.labels.percent + ": " + percentFormat.format(p.percent) + " %"); }
        lines.push(data.labels.status + ": " + (data.locale === "vi" ? p.status_vi : p.status_en));
      } else if (byTarget) {
        lines.push(data.labels.no_target);
      }
      if (p.boundary === "point") { lines.push("<em>" + data.labels.point + "</em>"); }
      return lines.join("<br>");
    }

    var values = data.geojson.features
      .map(function (f) { return f.properties.value; })
      .filter(function (v) { return v !== null && v !== undefined; });
    var low = values.length ? Math.min.apply(null, values) : 0;
    var high = values.length ? Math.max.apply(null, values) : 1;
    if (high === low) { high = low + 1; }
    var scale;
    if (byTarget) {
      scale = {
        type: "piecewise",
        pieces: data.statuses.map(function (s, i) {
          return { value: i, label: s.icon + " " + s.label, color: STATUS_COLOURS[s.key] };
        })
      };
    } else {
      // Five equal value ranges, each its own colour, so the legend can say what a colour means.
      var RANGE_COLOURS = ["#e8f0fa", "#b3cdec", "#6f9fd8", "#2f6fb8", "#0b4a8b"];
      var step = (high - low) / RANGE_COLOURS.length;
      scale = {
        type: "piecewise",
        pieces: RANGE_COLOURS.map(function (colour, i) {
          var from = low + step * i;
          var to = i === RANGE_COLOURS.length - 1 ? high : low + step * (i + 1);
          return {
            gte: from, lt: i === RANGE_COLOURS.length - 1 ? undefined : to,
            lte: i === RANGE_COLOURS.length - 1 ? to : undefined,
            color: colour, label: format.format(from) + " – " + withUnit(to)
          };
        })
      };
    }
    // The legend is written as HTML beside the map (readable, translated, and read aloud),
    // so the canvas keeps the colours only.
    var common = { show: false, outOfRange: { color: EMPTY } };
    var visualMaps = [];
    if (byTarget || values.length) {
      visualMaps.push(Object.assign({ seriesIndex: 0 }, common, scale));
      // The points take the same colours from their third dimension, with no second legend.
      visualMaps.push(Object.assign({ seriesIndex: 1, dimension: 2, show: false }, common, scale));
    }

    legend(element, data, byTarget ? scale.pieces.map(function (p, i) {
      return { colour: p.color, label: data.statuses[i].label, icon: data.statuses[i].icon };
    }) : scale.pieces.map(function (p) { return { colour: p.color, label: p.label }; }), values.length);

    window.echarts.registerMap(mapName, { type: "FeatureCollection", features: polygons });
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    var geo = {
      map: mapName, nameProperty: "code", roam: true, selectedMode: false,
      top: 10, bottom: 10,
      itemStyle: { borderColor: "#ffffff", borderWidth: 0.6, areaColor: EMPTY },
      // Hover keeps the unit's colour (a status is never lost) and outlines it.
      emphasis: { label: { show: false }, itemStyle: { areaColor: "inherit", borderColor: "#1f2933", borderWidth: 2 } },
      tooltip: { show: true }
    };
    if (!polygons.length && points.length) {
      var lons = points.map(function (f) { return f.geometry.coordinates[0]; });
      var lats = points.map(function (f) { return f.geometry.coordinates[1]; });
      geo.boundingCoords = [
        [Math.min.apply(null, lons) - 0.1, Math.max.apply(null, lats) + 0.1],
        [Math.max.apply(null, lons) + 0.1, Math.min.apply(null, lats) - 0.1]
      ];
    }
    chart.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: tooltip },
      geo: geo,
      visualMap: visualMaps,
      series: [{
        type: "map",
        geoIndex: 0,
        data: polygons.map(function (f) {
          var item = { name: f.properties.code, value: measure(f.properties), properties: f.properties };
          // A dashboard's chosen unit is outlined.
          if (data.selected && f.properties.code === data.selected) {
            item.itemStyle = { borderColor: "#1f2933", borderWidth: 3 };
          }
          return item;
        })
      }, {
        type: "scatter",
        coordinateSystem: "geo",
        symbol: "circle",
        symbolSize: 12,
        itemStyle: { borderColor: "#1f2933", borderWidth: 1, color: EMPTY },
        data: points.map(function (f) {
          var c = f.geometry.coordinates;
          return { name: f.properties.code, value: [c[0], c[1], measure(f.properties)], properties: f.properties };
        })
      }]
    });
    if (data.drill || data.pick) {
      chart.on("click", function (item) {
        var code = item.data && item.data.properties ? item.data.properties.code : item.name;
        if (!code) { return; }
        var url = new URL(window.location.href);
        url.searchParams.set(data.pick || "parent", code);
        window.location.assign(url.toString());
      });
    }
    window.addEventListener("resize", function () { chart.resize(); });
    element.tinhsoChart = chart;
    element.setAttribute("data-ready", "1");
    return chart;
  }

  // The legend under the map: a heading (what the colours measure, and the unit tree shown) and
  // one entry per colour, plus the colour of a unit with no figure.
  function legend(element, data, entries, hasValues) {
    var box = element.tinhsoLegend;
    if (!box) {
      box = document.createElement("div");
      box.className = "unit-map-legend";
      // After the map and the data beside it (a dashboard finds its data as the map's next sibling).
      element.parentNode.appendChild(box);
      element.tinhsoLegend = box;
    }
    box.textContent = "";
    var heading = document.createElement("p");
    heading.className = "unit-map-legend-title";
    var title = data.mode === "target" ? data.labels.legend_status : data.labels.legend_value;
    if (data.mode !== "target" && data.unit) { title += " (" + data.unit + ")"; }
    heading.textContent = title;
    box.appendChild(heading);
    if (data.labels.tree) {
      var tree = document.createElement("p");
      tree.className = "unit-map-legend-tree";
      tree.textContent = data.labels.tree;
      box.appendChild(tree);
    }
    var list = document.createElement("ul");
    if (data.mode === "target" || hasValues) {
      entries.forEach(function (e) { list.appendChild(entry(e.colour, (e.icon ? e.icon + " " : "") + e.label)); });
    }
    if (data.mode !== "target") { list.appendChild(entry("#d9e0e8", data.labels.no_value)); }
    box.appendChild(list);
  }
  function entry(colour, text) {
    var item = document.createElement("li");
    var swatch = document.createElement("span");
    swatch.className = "unit-map-legend-swatch";
    swatch.style.background = colour;
    swatch.setAttribute("aria-hidden", "true");
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(text));
    return item;
  }

  window.tinhsoUnitMap = draw;
  var element = document.getElementById("unit-map");
  var source = document.getElementById("unit-map-data");
  if (element && source && window.echarts) { draw(element, JSON.parse(source.textContent)); }
}());
