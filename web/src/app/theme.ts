import { prefs, type Theme } from '../auth/storage.js';

/** Light, dark or the system's choice; a class on <html> (no inline style, the CSP forbids it). */
export function applyTheme(theme: Theme = prefs.theme()): void {
  const dark = theme === 'dark' || (theme === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.classList.toggle('dark', dark);
}

export function setTheme(theme: Theme): void {
  prefs.setTheme(theme);
  applyTheme(theme);
}
