import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Boot } from './app/Boot.js';
import { applyTheme } from './app/theme.js';
import { createAuthClient } from './auth/oidc.js';
import './styles.css';

// One auth client per page load: tokens live in its closure and die with the page.
const auth = createAuthClient({ origin: window.location.origin });
applyTheme();
window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme());

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Boot auth={auth} />
  </StrictMode>,
);
