// A dashboard's PNG images (issue 15), drawn in the browser: no server-side browser, nothing from
// a CDN. A chart panel's chart is ECharts' own image (getDataURL, pixel ratio 2, white
// background); the rest of a panel (its title, figures, tables, counts) is written onto the
// canvas as text, a map's legend as its colour swatches and labels. The whole dashboard is its
// title, unit and date above every panel, laid out as the dashboard lays them out: its panels in
// their order, as many columns as the page's grid shows (two when a narrow screen shows one),
// a wide panel (map, series) spanning two columns, packed as CSS grid's dense flow packs them. Files: <dashboard-slug>-<unit code>-<dd-mm-yyyy>.png (a panel: ...-o<n>.png).
// On the print page: the "print" button, and the charts redrawn at the paper's size.
(function () {
  "use strict";

  var SCALE = 2;
  var WIDTH = 640;
  var module = { WIDTH: WIDTH };
  var PAD = 20;
  var GAP = 20;
  var FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif";
  var INK = "#1f2933";
  var MUTED = "#52606d";

  function squash(element) {
    return (element.textContent || "").replace(/\s+/g, " ").trim();
  }

  function font(size, bold) {
    return (bold ? "700 " : "400 ") + size + "px " + FONT;
  }

  function wrap(ctx, text, width) {
    var lines = [];
    var line = "";
    text.split(" ").forEach(function (word) {
      var tried = line ? line + " " + word : word;
      if (line && ctx.measureText(tried).width > width) { lines.push(line); line = word; }
      else { line = tried; }
    });
    if (line) { lines.push(line); }
    return lines;
  }

  // A block of text: measured now, painted later at (x, y).
  function textBlock(ctx, text, size, bold, color, width) {
    ctx.font = font(size, bold);
    var lines = wrap(ctx, text, width);
    var height = lines.length * Math.round(size * 1.35) + 6;
    return { height: height, paint: function (c, x, y) {
      c.font = font(size, bold);
      c.fillStyle = color;
      c.textBaseline = "top";
      lines.forEach(function (line, i) { c.fillText(line, x, y + i * Math.round(size * 1.35)); });
    } };
  }

  function tableBlock(ctx, table, width) {
    var rows = Array.prototype.map.call(table.querySelectorAll("tr"), function (tr) {
      return {
        head: tr.parentElement.tagName === "THEAD",
        bold: tr.classList.contains("dash-selected"),
        cells: Array.prototype.map.call(tr.children, function (cell) {
          return { text: squash(cell), number: cell.classList.contains("number") };
        })
      };
    });
    var columns = rows.length ? rows[0].cells.length : 0;
    var numeric = rows.length ? rows[0].cells.map(function (cell) { return cell.number; }) : [];
    var narrow = Math.min(110, width / Math.max(columns, 1));
    var wide = numeric.filter(function (n) { return !n; }).length;
    var rest = width - narrow * (columns - wide);
    var widths = numeric.map(function (n) { return n ? narrow : rest / Math.max(wide, 1); });
    var ROW = 22;
    return { height: rows.length * ROW + 6, paint: function (c, x, y) {
      c.textBaseline = "top";
      rows.forEach(function (row, r) {
        var top = y + r * ROW;
        if (row.head) { c.fillStyle = "#eef2f6"; c.fillRect(x, top, width, ROW); }
        c.strokeStyle = "#d9e2ec";
        c.beginPath(); c.moveTo(x, top + ROW); c.lineTo(x + width, top + ROW); c.stroke();
        var left = x;
        row.cells.forEach(function (cell, i) {
          var w = widths[i] || narrow;
          c.font = font(13, row.head || row.bold);
          c.fillStyle = INK;
          var shown = cell.text;
          while (shown.length > 1 && c.measureText(shown).width > w - 8) { shown = shown.slice(0, -2) + "…"; }
          if (cell.number) { c.textAlign = "right"; c.fillText(shown, left + w - 4, top + 4); c.textAlign = "left"; }
          else { c.fillText(shown, left + 4, top + 4); }
          left += w;
        });
      });
    } };
  }

  // A map's legend: its heading lines, then each colour's swatch and label, wrapped in rows.
  function legendBlock(ctx, legend, width) {
    var heads = Array.prototype.map.call(legend.querySelectorAll("p"), function (p, i) {
      return textBlock(ctx, squash(p), i === 0 ? 14 : 13, i === 0, i === 0 ? INK : MUTED, width);
    });
    ctx.font = font(13, false);
    var ROW = 22;
    var x = 0;
    var row = 0;
    var entries = Array.prototype.map.call(legend.querySelectorAll("li"), function (li) {
      var swatch = li.querySelector(".unit-map-legend-swatch");
      var text = squash(li);
      var w = 22 + ctx.measureText(text).width + 18;
      if (x > 0 && x + w > width) { x = 0; row += 1; }
      var placed = { x: x, row: row, text: text, colour: swatch ? swatch.style.backgroundColor : "#ffffff" };
      x += w;
      return placed;
    });
    var headHeight = heads.reduce(function (sum, b) { return sum + b.height; }, 0);
    var rows = entries.length ? row + 1 : 0;
    return { height: headHeight + rows * ROW + 6, paint: function (c, left, y) {
      heads.forEach(function (b) { b.paint(c, left, y); y += b.height; });
      c.textBaseline = "top";
      entries.forEach(function (e) {
        var top = y + e.row * ROW;
        c.fillStyle = e.colour;
        c.fillRect(left + e.x, top + 2, 15, 15);
        c.strokeStyle = MUTED;
        c.strokeRect(left + e.x + 0.5, top + 2.5, 14, 14);
        c.font = font(13, false);
        c.fillStyle = INK;
        c.fillText(e.text, left + e.x + 22, top + 3);
      });
    } };
  }

  function imageBlock(chart, width) {
    return new Promise(function (resolve) {
      var image = new Image();
      image.onload = function () {
        var height = Math.round(width * image.naturalHeight / Math.max(image.naturalWidth, 1));
        resolve({ height: height + 8, paint: function (c, x, y) { c.drawImage(image, x, y, width, height); } });
      };
      image.onerror = function () { resolve(null); };
      image.src = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#ffffff" });
    });
  }

  // A panel's blocks, in the order the page shows them.
  function panelBlocks(ctx, section, width) {
    var found = [];
    var title = section.querySelector(".dash-panel-title");
    found.push(textBlock(ctx, title ? squash(title) : "", 20, true, "#0b3d6e", width));
    Array.prototype.forEach.call(section.children, function (child) {
      var tag = child.tagName;
      if (child.classList.contains("dash-panel-title") || child.classList.contains("dash-panel-actions") ||
          tag === "SCRIPT" || tag === "DETAILS") { return; }
      if (child.hasAttribute("data-dash-chart")) {
        if (child.tinhsoChart) { found.push(imageBlock(child.tinhsoChart, width)); }
        return;
      }
      if (tag === "TABLE") { found.push(tableBlock(ctx, child, width)); return; }
      if (child.classList.contains("unit-map-legend")) { found.push(legendBlock(ctx, child, width)); return; }
      if (tag === "UL" || tag === "OL") {
        Array.prototype.forEach.call(child.children, function (item) {
          var parts = Array.prototype.map.call(item.childNodes, squash).filter(Boolean);
          found.push(textBlock(ctx, parts.join(" "), 15, false, INK, width));
        });
        return;
      }
      var text = squash(child);
      if (!text) { return; }
      // The map's hint ("choose a commune on the map") is for the page, not the image.
      if (section.classList.contains("dash-map") && child.classList.contains("small")) { return; }
      if (child.classList.contains("dash-kpi-value")) { found.push(textBlock(ctx, text, 34, true, INK, width)); }
      else if (child.classList.contains("dash-subtitle") || child.classList.contains("muted")) {
        found.push(textBlock(ctx, text, 13, false, MUTED, width));
      } else if (child.classList.contains("alert")) { found.push(textBlock(ctx, text, 14, false, "#a4161a", width)); }
      else { found.push(textBlock(ctx, text, 15, false, INK, width)); }
    });
    return Promise.all(found).then(function (blocks) { return blocks.filter(Boolean); });
  }

  // A panel as its own canvas (CSS pixels × SCALE), with a frame; `width` in CSS pixels (one
  // column's unless given).
  function panelCanvas(section, width) {
    var WIDTH = width || module.WIDTH;
    var measure = document.createElement("canvas").getContext("2d");
    return panelBlocks(measure, section, WIDTH - 2 * PAD).then(function (blocks) {
      var height = PAD * 2 + blocks.reduce(function (sum, b) { return sum + b.height; }, 0);
      var canvas = document.createElement("canvas");
      canvas.width = WIDTH * SCALE;
      canvas.height = height * SCALE;
      var c = canvas.getContext("2d");
      c.scale(SCALE, SCALE);
      c.fillStyle = "#ffffff";
      c.fillRect(0, 0, WIDTH, height);
      c.strokeStyle = "#bcccdc";
      c.strokeRect(0.5, 0.5, WIDTH - 1, height - 1);
      var y = PAD;
      blocks.forEach(function (b) { b.paint(c, PAD, y); y += b.height; });
      return canvas;
    });
  }

  // The dashboard's grid as the page lays it out: its number of columns and each panel's span
  // (a narrow screen's single column counts as two, wide panels spanning both).
  function gridLayout(sections) {
    var grid = sections.length ? sections[0].parentElement : null;
    var tracks = grid ? window.getComputedStyle(grid).gridTemplateColumns.split(" ").filter(Boolean) : [];
    var columns = Math.max(tracks.length, 1);
    var spans = sections.map(function (section) {
      // "grid-column: span 2" computes to a start of "span 2" (and an end of "auto").
      var style = window.getComputedStyle(section);
      var spanned = /span\s+(\d+)/.exec(style.gridColumnStart + " " + style.gridColumnEnd);
      var span = spanned ? parseInt(spanned[1], 10) : 1;
      if (columns === 1) { span = section.classList.contains("dash-map") || section.classList.contains("dash-timeseries") ? 2 : 1; }
      return span;
    });
    if (columns === 1) { columns = sections.length > 1 ? 2 : 1; }
    return { columns: columns, spans: spans.map(function (span) { return Math.min(span, columns); }) };
  }

  // Places panels of the given spans in order, CSS grid's dense flow: each in the first row and
  // column (from the top) where its span is free. Returns [{row, column}] per panel.
  function pack(spans, columns) {
    var taken = [];
    return spans.map(function (span) {
      for (var row = 0; ; row += 1) {
        taken[row] = taken[row] || [];
        for (var column = 0; column + span <= columns; column += 1) {
          var free = true;
          for (var k = column; k < column + span; k += 1) { if (taken[row][k]) { free = false; } }
          if (free) {
            for (k = column; k < column + span; k += 1) { taken[row][k] = true; }
            return { row: row, column: column };
          }
        }
      }
    });
  }

  // The whole dashboard: its title, unit and date, then the panels in the dashboard's layout;
  // each row as tall as its tallest panel, as the page's grid rows are.
  function dashboardCanvas(sections, heading) {
    var layout = gridLayout(sections);
    var columns = layout.columns;
    var places = pack(layout.spans, columns);
    var widths = layout.spans.map(function (span) { return span * WIDTH + (span - 1) * GAP; });
    return Promise.all(sections.map(function (section, i) { return panelCanvas(section, widths[i]); })).then(function (panels) {
      var total = PAD * 2 + columns * WIDTH + (columns - 1) * GAP;
      var measure = document.createElement("canvas").getContext("2d");
      var head = heading.map(function (line, i) {
        return textBlock(measure, line, i === 0 ? 30 : 16, i === 0, i === 0 ? "#0b3d6e" : MUTED, total - 2 * PAD);
      });
      var top = PAD + head.reduce(function (sum, b) { return sum + b.height; }, 0) + GAP / 2;
      var rowHeights = [];
      places.forEach(function (place, i) {
        rowHeights[place.row] = Math.max(rowHeights[place.row] || 0, panels[i].height / SCALE);
      });
      var rowTops = [];
      var y0 = top;
      for (var r = 0; r < rowHeights.length; r += 1) { rowTops[r] = y0; y0 += (rowHeights[r] || 0) + GAP; }
      var height = y0 - GAP + PAD;
      var canvas = document.createElement("canvas");
      canvas.width = total * SCALE;
      canvas.height = Math.ceil(height * SCALE);
      var c = canvas.getContext("2d");
      c.scale(SCALE, SCALE);
      c.fillStyle = "#ffffff";
      c.fillRect(0, 0, total, height);
      var y = PAD;
      head.forEach(function (b) { b.paint(c, PAD, y); y += b.height; });
      places.forEach(function (place, i) {
        var panel = panels[i];
        c.drawImage(panel, PAD + place.column * (WIDTH + GAP), rowTops[place.row], widths[i], panel.height / SCALE);
      });
      canvas.tinhsoLayout = places.map(function (place, i) {
        return { x: PAD + place.column * (WIDTH + GAP), y: rowTops[place.row], width: widths[i], height: panels[i].height / SCALE };
      });
      return canvas;
    });
  }

  // Today in the province (the server's LOCAL_TIMEZONE), as the data exports date themselves.
  function today() {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit", year: "numeric" })
      .formatToParts(new Date()).forEach(function (part) { parts[part.type] = part.value; });
    return { file: parts.day + "-" + parts.month + "-" + parts.year,
      shown: parts.day + "/" + parts.month + "/" + parts.year };
  }

  function save(canvas, name) {
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) {
        var url = URL.createObjectURL(blob);
        var link = document.createElement("a");
        link.href = url;
        link.download = name;
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        resolve();
      }, "image/png");
    });
  }

  function exports(box) {
    var stem = box.getAttribute("data-slug") + "-" + box.getAttribute("data-unit") + "-" + today().file;
    var status = box.querySelector(".dash-export-status");
    function failed() { if (status) { status.textContent = box.getAttribute("data-png-error"); } }
    var grid = document.getElementById("dashboard-panels");
    var sections = function () { return Array.prototype.slice.call(grid.querySelectorAll(".dash-panel")); };
    box.querySelector("[data-png='dashboard']").addEventListener("click", function () {
      var title = document.querySelector("h1");
      var unit = document.getElementById("dashboard-unit");
      var heading = [title ? squash(title) : "", (unit ? squash(unit).split(" · ")[0] : "") + " · " + today().shown];
      dashboardCanvas(sections(), heading).then(function (canvas) { return save(canvas, stem + ".png"); }).catch(failed);
    });
    grid.addEventListener("click", function (event) {
      var button = event.target.closest("[data-png='panel']");
      if (!button) { return; }
      var section = button.closest(".dash-panel");
      var n = sections().indexOf(section) + 1;
      panelCanvas(section).then(function (canvas) { return save(canvas, stem + "-o" + n + ".png"); }).catch(failed);
    });
  }

  function printPage(button) {
    button.addEventListener("click", function () { window.print(); });
    function resize() {
      Array.prototype.forEach.call(document.querySelectorAll("[data-dash-chart]"), function (element) {
        if (element.tinhsoChart) { element.tinhsoChart.resize(); }
      });
    }
    window.addEventListener("beforeprint", resize);
    window.addEventListener("afterprint", resize);
  }

  var box = document.getElementById("dashboard-exports");
  if (box && document.getElementById("dashboard-panels")) { exports(box); }
  var print = document.getElementById("print-now");
  if (print) { printPage(print); }
  window.tinhsoDashboardExport = { panelCanvas: panelCanvas, dashboardCanvas: dashboardCanvas, gridLayout: gridLayout };
}());
