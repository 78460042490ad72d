/* Starts the vendored Swagger UI on #swagger-ui with the definition named in its data-openapi-url
 * (frontend/docs_page.py). An external file: the pages' CSP allows no inline script. */
(function () {
  'use strict';
  var node = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: node.getAttribute('data-openapi-url'),
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
