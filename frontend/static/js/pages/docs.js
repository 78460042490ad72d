/* Starts the vendored Swagger UI (a classic deferred script, run before this module) on #swagger-ui
 * with the definition named in the page data (frontend/docs_page.py). */

import {pageData} from '../lib/dom.js';

const data = pageData();
window.ui = SwaggerUIBundle({
  url: data.openapi_url,
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  // No deep links: Swagger UI puts each as a link inside the operation's toggle button (a control
  // inside a control, and a target under 24 px).
  deepLinking: false,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});

// Swagger UI renders some selects without a name (the server list, a parameter's values): name them
// as they appear, from our catalogue or the parameter's own name.
const names = data.text.docs;
const root = document.getElementById('swagger-ui');
function nameControls() {
  for (const select of root.querySelectorAll('select:not([aria-label])')) {
    const parameter = select.closest('tr[data-param-name]');
    if (select.id === 'servers') select.setAttribute('aria-label', names.servers);
    else if (parameter) select.setAttribute('aria-label', parameter.dataset.paramName);
  }
}
new MutationObserver(nameControls).observe(root, {childList: true, subtree: true});
