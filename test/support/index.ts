export * from './rampart.js';
