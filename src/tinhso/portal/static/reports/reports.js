// "Use my position": fills the hidden latitude/longitude fields from the browser's location.
(function () {
  "use strict";
  var button = document.querySelector("[data-position]");
  if (!button || !("geolocation" in navigator)) { return; }
  var status = document.getElementById("position-status");
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = "…";
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("rep-latitude").value = position.coords.latitude.toFixed(6);
      document.getElementById("rep-longitude").value = position.coords.longitude.toFixed(6);
      status.textContent = position.coords.latitude.toFixed(5) + ", " + position.coords.longitude.toFixed(5);
    }, function () {
      status.textContent = button.getAttribute("data-refused") || "";
    }, { enableHighAccuracy: true, timeout: 15000 });
  });
}());
