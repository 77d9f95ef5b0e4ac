export { backoffDelay } from './backoff-delay.js';
export type { BackoffOptions } from './backoff-delay.js';
