export { buildServer, type ServerOptions } from './build-server.js';
export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  startServer,
  type RunningServer,
  type StartServerOptions,
} from './start-server.js';
export {
  createTokenStore,
  hashToken,
  matchToken,
  type ActiveToken,
  type CreatedToken,
  type TokenRecord,
  type TokenStore,
  type TokenStoreOptions,
  type TokenType,
} from './token-store.js';
export { createFlagAdminClient, type FlagAdminClientOptions } from './admin-client.js';
export { errorBody, httpStatusFor, type ErrorBody } from './http-errors.js';
export type { Caller } from './auth.js';
export type { EnvironmentPayload } from './flag-feed.js';
