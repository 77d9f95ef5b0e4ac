/**
 * cutover — the library API. The CLI (`cutover`), the HTTP server and the
 * dashboard are thin layers over these functions.
 */
export * from './errors/index.js';
export * from './db/index.js';
export * from './retry/index.js';
export * from './store/index.js';
export * from './flags/index.js';
export * from './migrate/index.js';
export * from './plan/index.js';
export * from './steps/index.js';
export * from './runner/index.js';
export * from './data/index.js';
export * from './server/index.js';
export * from './sdk/index.js';
