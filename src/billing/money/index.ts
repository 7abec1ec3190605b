export * from './money.js';
export { CURRENCY_CODES, CURRENCY_EXPONENTS, isCurrency } from './currencies.js';
