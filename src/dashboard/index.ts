/** The admin dashboard: serves the built SPA (web/dist) under /dashboard/. */
export { dashboardRoutes, DASHBOARD_PREFIX } from './routes.js';
export { loadDashboardBundle, defaultDistDir, type DashboardBundle, type DashboardFile } from './bundle.js';
export { planPreviewRoutes, type PlanPreview } from './plan-preview.js';
