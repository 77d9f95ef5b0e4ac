export { CutoverError, isCutoverError } from './cutover-error.js';
export type { ErrorCategory, CutoverErrorOptions } from './cutover-error.js';
export { describeError } from './describe-error.js';
