/* The portal shell: on a phone the main menu collapses behind a "Menu" button. Without
   script the menu simply stays open (the button only exists once this file runs). */
(function () {
  "use strict";
  // "Print (A4)" buttons: the print stylesheet shapes the page.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  // "Copy" buttons: data-copy names the element whose text goes to the clipboard.
  document.querySelectorAll("[data-copy]").forEach(function (copy) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        var done = copy.getAttribute("data-copied");
        if (done) { copy.textContent = done; }
      });
    });
  });
  var nav = document.querySelector(".main-nav");
  var button = document.getElementById("menu-toggle");
  if (!nav || !button) { return; }
  document.documentElement.classList.add("js");
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = nav.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
