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

// Swagger UI renders controls without names (the server list, for one): name them from our
// catalogue as they appear.
const names = data.text.docs;
const root = document.getElementById('swagger-ui');
function nameControls() {
  for (const select of root.querySelectorAll('select#servers:not([aria-label])')) {
    select.setAttribute('aria-label', names.servers);
  }
}
new MutationObserver(nameControls).observe(root, {childList: true, subtree: true});
