// The kiosk link shown once: a button copies it (the field stays selectable without script).
(function () {
  "use strict";
  var button = document.getElementById("kiosk-copy");
  var field = document.getElementById("kiosk-url");
  if (!button || !field) { return; }
  button.addEventListener("click", function () {
    field.select();
    var done = function () { button.textContent = button.getAttribute("data-copied"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
}());
