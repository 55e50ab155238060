// A dashboard's PNG images (issue 15), drawn in the browser: no server-side browser, nothing from
// a CDN. A chart panel's chart is ECharts' own image (getDataURL, pixel ratio 2, white
// background); the rest of a panel (its title, figures, tables, counts) is written onto the
// canvas as text. The whole dashboard is its title, unit and date above every panel, in two
// columns. Files: <dashboard-slug>-<unit code>-<dd-mm-yyyy>.png (a panel: ...-o<n>.png).
// On the print page: the "print" button, and the charts redrawn at the paper's size.
(function () {
  "use strict";

  var SCALE = 2;
  var WIDTH = 640;
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

  // A panel as its own canvas (CSS pixels × SCALE), with a frame.
  function panelCanvas(section) {
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

  // The whole dashboard: its title, unit and date, then the panels in two columns (each in
  // the shorter one).
  function dashboardCanvas(sections, heading) {
    return Promise.all(sections.map(panelCanvas)).then(function (panels) {
      var columns = panels.length > 1 ? 2 : 1;
      var total = PAD * 2 + columns * WIDTH + (columns - 1) * GAP;
      var measure = document.createElement("canvas").getContext("2d");
      var head = heading.map(function (line, i) {
        return textBlock(measure, line, i === 0 ? 30 : 16, i === 0, i === 0 ? "#0b3d6e" : MUTED, total - 2 * PAD);
      });
      var top = PAD + head.reduce(function (sum, b) { return sum + b.height; }, 0) + GAP / 2;
      var heights = [top, top];
      var places = panels.map(function (panel) {
        var column = columns === 1 || heights[0] <= heights[1] ? 0 : 1;
        var place = { panel: panel, x: PAD + column * (WIDTH + GAP), y: heights[column] };
        heights[column] += panel.height / SCALE + GAP;
        return place;
      });
      var height = Math.max(heights[0], columns > 1 ? heights[1] : 0) + PAD - GAP;
      var canvas = document.createElement("canvas");
      canvas.width = total * SCALE;
      canvas.height = Math.ceil(height * SCALE);
      var c = canvas.getContext("2d");
      c.scale(SCALE, SCALE);
      c.fillStyle = "#ffffff";
      c.fillRect(0, 0, total, height);
      var y = PAD;
      head.forEach(function (b) { b.paint(c, PAD, y); y += b.height; });
      places.forEach(function (p) { c.drawImage(p.panel, p.x, p.y, WIDTH, p.panel.height / SCALE); });
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
  window.tinhsoDashboardExport = { panelCanvas: panelCanvas, dashboardCanvas: dashboardCanvas };
}());
