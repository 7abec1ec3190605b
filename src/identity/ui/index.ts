/** The hosted login UI of the identity module (ID-4, ID-5, ID-6, ID-10). */
export { loginUiRoutes, type LoginUiDeps } from './routes.js';
export { safeReturnTo, RETURN_TO_MAX_LENGTH } from './return-to.js';
export { html, escapeHtml, type SafeHtml } from './html.js';
