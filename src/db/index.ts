export { connect } from './connect.js';
export type { ConnectOptions } from './connect.js';
export { parseDatabaseUrl, redactDatabaseUrl } from './database-url.js';
export { startEmbeddedServer } from './embedded-server.js';
export type { EmbeddedServer, EmbeddedServerOptions } from './embedded-server.js';
export { isConnectionError, isDatabaseError, toConnectionError } from './pg-error.js';
