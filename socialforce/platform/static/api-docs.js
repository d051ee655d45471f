/* /api/v1/docs: start Swagger UI (bundled, served by this site) over the documents listed in the page's
   data-documents attribute. No inline script (the CSP allows only this site's files), no validator badge
   (it would call an outside server), no spec URL taken from the address bar. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") { return; }
  var documents = JSON.parse(root.getAttribute("data-documents"));
  window.ui = SwaggerUIBundle({
    urls: documents,
    "urls.primaryName": documents[0].name,
    dom_id: "#swagger-ui",
    deepLinking: true,
    queryConfigEnabled: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
})();
