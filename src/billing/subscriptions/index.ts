export { createSubscription, findCoupon, amountMismatch, type CreateSubscriptionInput } from './create-subscription.js';
export { previewChange, changeSubscription, cancelSubscription, pauseSubscription, resumeSubscription, type ChangeInput } from './change-subscription.js';
export { renewSubscription, dueSubscriptions, type RenewalOutcome } from './renew.js';
export { addInterval, prorate, seconds, type Proration } from './periods.js';
