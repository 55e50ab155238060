// Maps of field reports: the public map (points on the province's communes; a click opens
// the report) and the form's map (a tap gives the report's point).
(function () {
  "use strict";
  function mapOption(geojson, extra) {
    window.echarts.registerMap("tinhso-communes", geojson);
    return Object.assign({
      animation: false,
      geo: {
        map: "tinhso-communes", nameProperty: "code", roam: true,
        itemStyle: { areaColor: "#e8f0fa", borderColor: "#6f9fd8", borderWidth: 0.5 },
        emphasis: { itemStyle: { areaColor: "#fff3d6" }, label: { show: false } },
        tooltip: { show: true, formatter: function (item) {
          var feature = geojson.features.find(function (f) { return f.properties.code === item.name; });
          return feature ? feature.properties.name : item.name;
        } }
      },
      tooltip: { trigger: "item" }
    }, extra);
  }

  var publicMap = document.getElementById("reports-map");
  var publicData = document.getElementById("reports-map-data");
  if (publicMap && publicData && window.echarts) {
    var data = JSON.parse(publicData.textContent);
    var chart = window.echarts.init(publicMap);
    var points = function (closed) {
      return data.points.filter(function (p) { return p.closed === closed; });
    };
    chart.setOption(mapOption(data.geojson, {
      series: [false, true].map(function (closed) {
        return {
          type: "scatter", coordinateSystem: "geo", symbolSize: 9,
          itemStyle: { color: closed ? "#17683a" : "#c8102e", borderColor: "#ffffff", borderWidth: 1 },
          tooltip: { formatter: function (item) { return item.data.code + " · " + item.data.category; } },
          data: points(closed)
        };
      })
    }));
    chart.on("click", function (item) {
      if (item.seriesType === "scatter" && item.data && item.data.code) {
        window.location.assign("/reports/" + encodeURIComponent(item.data.code));
      }
    });
    window.addEventListener("resize", function () { chart.resize(); });
    publicMap.tinhsoChart = chart;
    publicMap.setAttribute("data-ready", "1");
  }

  // The form: a tap on the map sets the hidden latitude/longitude fields.
  var picker = document.getElementById("location-map");
  if (picker && window.echarts && window.fetch) {
    var status = document.getElementById("position-status");
    window.fetch(picker.getAttribute("data-src")).then(function (answer) {
      return answer.json();
    }).then(function (geojson) {
      if (!geojson.features || !geojson.features.length) { return; }
      picker.hidden = false;
      var chart = window.echarts.init(picker);
      var marker = function (lonLat) {
        return [{ type: "scatter", coordinateSystem: "geo", symbolSize: 14,
          itemStyle: { color: "#c8102e", borderColor: "#ffffff", borderWidth: 2 },
          data: lonLat ? [{ value: lonLat }] : [] }];
      };
      var latitude = document.getElementById("rep-latitude");
      var longitude = document.getElementById("rep-longitude");
      var start = latitude.value && longitude.value ? [Number(longitude.value), Number(latitude.value)] : null;
      chart.setOption(mapOption(geojson, { series: marker(start) }));
      chart.getZr().on("click", function (event) {
        var lonLat = chart.convertFromPixel({ geoIndex: 0 }, [event.offsetX, event.offsetY]);
        if (!lonLat) { return; }
        longitude.value = lonLat[0].toFixed(6);
        latitude.value = lonLat[1].toFixed(6);
        if (status) { status.textContent = lonLat[1].toFixed(5) + ", " + lonLat[0].toFixed(5); }
        chart.setOption({ series: marker(lonLat) });
        latitude.dispatchEvent(new Event("change", { bubbles: true }));
      });
      window.addEventListener("resize", function () { chart.resize(); });
      picker.tinhsoChart = chart;
      picker.setAttribute("data-ready", "1");
    }).catch(function () { /* no map: the other ways of giving the place remain */ });
  }
}());
