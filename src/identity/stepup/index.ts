/**
 * Step-up (control ID-7). The guard itself (`requireFreshAuth`, `assertFreshAuth`) lives in the
 * http module so every feature module can put it on a route; this module holds the passkey
 * ceremony that satisfies it.
 */
export { beginStepUp, finishStepUp } from './step-up.js';
