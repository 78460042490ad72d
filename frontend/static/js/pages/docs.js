/* Starts the vendored Swagger UI (a classic deferred script, run before this module) on #swagger-ui
 * with the definition named in the page data (frontend/docs_page.py). */

import {pageData} from '../lib/dom.js';

const data = pageData();
window.ui = SwaggerUIBundle({
  url: data.openapi_url,
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
