// The API documentation page (/api/docs): Swagger UI from the platform's own static files,
// started here rather than inline so the page keeps the portal's Content-Security-Policy.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  // Kept on window: the browser tests ask it how many operations it read.
  window.tinhsoApiDocs = window.SwaggerUIBundle({
    url: root.dataset.openapi,
    domNode: root,
    deepLinking: false, // a link inside the summary button would nest two controls (axe)
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
