/** Sign-in throttling, attack detection (ID-9) and the ALTCHA proof-of-work challenge (ID-10). */
export { createThrottle, type Throttle, type ThrottleOptions, type AttemptSubject, type AttemptDecision, type ThrottleScope, type Detection, type DetectionKind } from './throttle.js';
export { DEFAULT_LIMITS, resolveLimits, backoffSeconds, type LimitRule, type ThrottleLimits, type ThrottleLimitsInput } from './limits.js';
export { createReplayStore, DEFAULT_KEY_PREFIX, type ThrottleStore, type OnceStore } from './store.js';
export { createChallenger, CHALLENGE_DEFAULTS, type Challenger, type ChallengerOptions, type ChallengeAlgorithm } from './challenge.js';
export { throttledProblem, retryAfterHeader, challengeRequiredProblem } from './problem.js';
export { normalizeAccount, ipBucket, createKeyHasher, type KeyHasher } from './keys.js';
export { createRequestLimiter, DEFAULT_REQUEST_BUDGETS, type RequestLimiter, type RequestBucket, type RequestBudget, type RequestDecision } from './request-limiter.js';
