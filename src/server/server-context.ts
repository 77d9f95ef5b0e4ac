import type { FastifyRequest } from 'fastify';
import type { ClientReportStore } from '../flags/client-report-store.js';
import type { FlagStore } from '../flags/flag-store.js';
import type { Caller } from './auth.js';
import type { FlagFeed } from './flag-feed.js';
import type { TokenStore, TokenType } from './token-store.js';

/** What the routes of one server share (one instance per `buildServer`). */
export interface ServerContext {
  flags: FlagStore;
  tokens: TokenStore;
  reports: ClientReportStore;
  feed: FlagFeed;
  /** Authenticates a request (see `authenticate` in auth.ts). */
  authenticate(request: FastifyRequest, required: TokenType): Promise<Caller>;
  options: { heartbeatMs: number; retryMs: number };
}
