// The wall screen: shows one dashboard at a time, each for its own seconds (data-seconds),
// and fetches the page again every data-refresh seconds, swapping in the new panels. When the
// server cannot be reached (or answers with an error, or sends the login page), the last
// panels stay and a notice says since when the data is not updated (hh:mm dd/mm/yyyy,
// Vietnam time, the time of the last successful fetch). On a kiosk link's screen
// (data-kiosk) an answer 401/403/404/410 means the link is over: the last panels stay under
// the server's reason ("Liên kết trình chiếu đã bị thu hồi") and the screen stops fetching.
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  if (!wall) { return; }
  var refreshMs = Math.max(5, parseInt(wall.getAttribute("data-refresh"), 10) || 60) * 1000;
  var stale = document.getElementById("wall-stale");
  var staleText = stale.querySelector(".wall-stale-text");
  var lastUpdate = new Date(wall.getAttribute("data-updated"));
  var current = 0;
  var timer = null;

  function twoDigits(n) { return (n < 10 ? "0" : "") + n; }
  function stamp(date) {
    // Vietnam time (UTC+7, no daylight saving): hh:mm dd/mm/yyyy
    var local = new Date(date.getTime() + 7 * 3600 * 1000);
    return twoDigits(local.getUTCHours()) + ":" + twoDigits(local.getUTCMinutes()) + " " +
      twoDigits(local.getUTCDate()) + "/" + twoDigits(local.getUTCMonth() + 1) + "/" + local.getUTCFullYear();
  }
  function screens() { return document.querySelectorAll("#wall-screens .wall-screen"); }

  function display(index) {
    var all = screens();
    if (!all.length) { return null; }
    current = index % all.length;
    Array.prototype.forEach.call(all, function (screen, i) { screen.hidden = i !== current; });
    var shown = all[current];
    wall.setAttribute("data-current", shown.getAttribute("data-slug"));
    if (window.tinhsoDashboard) { window.tinhsoDashboard.draw(shown); }
    Array.prototype.forEach.call(shown.querySelectorAll("[data-dash-chart]"), function (element) {
      if (element.tinhsoChart) { element.tinhsoChart.resize(); }
    });
    return shown;
  }

  function show(index) {
    var shown = display(index);
    if (!shown) { return; }
    var seconds = Math.max(5, parseInt(shown.getAttribute("data-seconds"), 10) || 30);
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { show(current + 1); }, seconds * 1000);
  }

  function markStale() {
    staleText.textContent = wall.getAttribute("data-stale-text").replace("{time}", stamp(lastUpdate));
    stale.hidden = false;
    wall.classList.add("wall-is-stale");
  }

  // A kiosk link (data-kiosk) that the server says is over (revoked, expired, unknown): the
  // last picture stays under the server's reason, and the screen stops asking.
  var kiosk = wall.hasAttribute("data-kiosk");
  var ended = document.getElementById("wall-ended");
  var poller = null;
  function markEnded(html) {
    var said = "";
    try {
      var page = new DOMParser().parseFromString(html || "", "text/html");
      var reason = page.getElementById("kiosk-ended");
      said = reason ? reason.textContent.trim() : "";
    } catch (ignored) { said = ""; }
    ended.textContent = said || wall.getAttribute("data-ended-text");
    ended.hidden = false;
    stale.hidden = true;
    wall.classList.add("wall-is-ended");
    window.clearInterval(poller);
  }

  function refresh() {
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (kiosk && ended && [401, 403, 404, 410].indexOf(response.status) >= 0) {
          return response.text().then(function (html) { markEnded(html); return null; });
        }
        if (!response.ok || response.type === "opaqueredirect") { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("wall-screens");
        var freshWall = page.getElementById("wall");
        if (!fresh || !freshWall) { throw new Error("not a wall page"); }
        document.getElementById("wall-screens").innerHTML = fresh.innerHTML;
        lastUpdate = new Date(freshWall.getAttribute("data-updated"));
        wall.setAttribute("data-updated", freshWall.getAttribute("data-updated"));
        stale.hidden = true;
        wall.classList.remove("wall-is-stale");
        display(current);  // the rotation keeps its own time
      })
      .catch(markStale);
  }

  show(0);
  poller = window.setInterval(refresh, refreshMs);
}());
