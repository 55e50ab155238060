// "Use my position": fills the hidden latitude/longitude fields from the browser's location.
(function () {
  "use strict";
  var button = document.querySelector("[data-position]");
  if (!button || !("geolocation" in navigator)) { return; }
  var status = document.getElementById("position-status");
  var category = document.getElementById("rep-category");
  // Open reports of the same kind near the position: the reporter may follow one instead.
  function showNearby() {
    var latitude = document.getElementById("rep-latitude").value;
    var longitude = document.getElementById("rep-longitude").value;
    if (!latitude || !category.value || !window.htmx) { return; }
    var query = new URLSearchParams({ category: category.value, latitude: latitude, longitude: longitude });
    window.htmx.ajax("GET", "/reports/nearby?" + query.toString(), { target: "#nearby", swap: "innerHTML" });
  }
  category.addEventListener("change", showNearby);
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = "…";
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("rep-latitude").value = position.coords.latitude.toFixed(6);
      document.getElementById("rep-longitude").value = position.coords.longitude.toFixed(6);
      status.textContent = position.coords.latitude.toFixed(5) + ", " + position.coords.longitude.toFixed(5);
      showNearby();
    }, function () {
      status.textContent = button.getAttribute("data-refused") || "";
    }, { enableHighAccuracy: true, timeout: 15000 });
  });
}());
