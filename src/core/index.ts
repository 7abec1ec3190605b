export * from './errors.js';
export * from './secrets.js';
export * from './config.js';
export * from './logger.js';
export * from './ids.js';
export * from './clock.js';
export * from './crypto.js';
export * from './keyring.js';
