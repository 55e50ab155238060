// The OpenAPI form after a refusal: the document's text area opens at the line the error
// names (data-error-line), with that line selected, so the provider corrects it in place.
(function () {
  "use strict";
  var area = document.querySelector("textarea[data-error-line]");
  if (!area) return;
  var line = parseInt(area.getAttribute("data-error-line"), 10);
  if (!(line > 0)) return;
  var lines = area.value.split("\n");
  if (line > lines.length) return;
  var start = 0;
  for (var i = 0; i < line - 1; i++) start += lines[i].length + 1;
  var end = start + lines[line - 1].length;
  var height = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (line - 4) * height);
  area.setSelectionRange(start, end);
})();
