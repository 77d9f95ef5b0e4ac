import type { CutoverError } from '../errors/index.js';
import type {
  Evaluation,
  EvaluationErrorCode,
  EvaluationReason,
  VariantResult,
} from '../flags/create-evaluator.js';
import type { ClientFeaturesResponse, FlagContext } from '../flags/model.js';
import type { ReconnectBackoff } from './backoff.js';
import type { ReadTextFile } from './load-bootstrap.js';

/** Reason of a client evaluation: the evaluator's reasons, plus `STALE`. */
export type FlagReason = EvaluationReason | 'STALE';

/** Error code of a client evaluation: the evaluator's, plus `PROVIDER_NOT_READY` (no copy loaded yet). */
export type FlagErrorCode = EvaluationErrorCode | 'PROVIDER_NOT_READY';

/**
 * The result of {@link FlagClient.evaluate}: the evaluator's {@link Evaluation},
 * with `reason: 'STALE'` when the client's copy is older than `staleAfterMs`
 * (the value is still computed from that copy; `staleReason` keeps the
 * evaluator's reason). Any error code (`FLAG_NOT_FOUND`, `PARSE_ERROR`, `GENERAL`,
 * `PROVIDER_NOT_READY`) comes with `reason: 'ERROR'`, stale or not.
 */
export interface FlagEvaluation extends Omit<Evaluation, 'reason' | 'errorCode'> {
  reason: FlagReason;
  errorCode?: FlagErrorCode;
  /** The evaluator's reason, when `reason` is `STALE`. */
  staleReason?: EvaluationReason;
}

/** Options of {@link createFlagClient}. */
export interface FlagClientOptions {
  /**
   * Base URL of `cutover serve`, e.g. `http://localhost:4242` (a trailing `/api`,
   * as Unleash SDKs are configured, is accepted). Omitted → offline: the client
   * evaluates the bootstrap and the environment variables only, never stale.
   */
  url?: string;
  /** Client token (read-only, one environment), sent as the `Authorization` header. */
  token?: string;
  /**
   * Environment name: the default `environment` field of every evaluation context.
   * (Which environment's flags the server sends is decided by the client token.)
   */
  environment?: string;
  /** Application name: the default `appName` context field and the `UNLEASH-APPNAME` header. Default `cutover-sdk`. */
  appName?: string;
  /**
   * A copy to start from before (or without) the server: the `/api/client/features`
   * payload as an object, or the path of a JSON file holding it (read synchronously
   * at creation). Replaced by the server's copy as soon as one arrives.
   */
  bootstrap?: ClientFeaturesResponse | string;
  /** Age (ms) past which evaluations report `reason: 'STALE'` and `stale` is emitted. Default 60 000. */
  staleAfterMs?: number;
  /** Receive changes over Server-Sent Events (`GET /api/client/stream`). Default true; false → polling only. */
  streaming?: boolean;
  /** Interval (ms) of ETag polling (`GET /api/client/features`) when not streaming. Default 15 000. */
  pollIntervalMs?: number;
  /** Reconnect delays of the stream: exponential backoff with jitter. Defaults: 250 ms initial, 30 s max. */
  backoff?: ReconnectBackoff;
  /** Default timeout (ms) of {@link FlagClient.ready}. Default 10 000. */
  readyTimeoutMs?: number;
  /** Timeout (ms) of one polling request. Default 10 000. */
  requestTimeoutMs?: number;
  /**
   * A stream that sends nothing (no event, no `: ping` heartbeat — the server
   * sends one every 15 s by default) for this long is treated as dead and
   * reconnected. Default 45 000 ms.
   */
  streamIdleTimeoutMs?: number;
  /**
   * Environment variables to read `CUTOVER_FLAG_*` overrides from (see
   * {@link parseFlagEnv}); `false` disables them. Default `process.env`.
   */
  env?: Readonly<Record<string, string | undefined>> | false;
  /** `fetch` used for polling and for the stream. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Current time in ms since the epoch (staleness, `currentTime` constraints). Default `Date.now`. */
  clock?: () => number;
  /** Uniform random numbers in [0, 1) (backoff jitter, `gradualRolloutRandom`). Default `Math.random`. */
  random?: () => number;
  /** Reads the bootstrap file. Default `fs.readFileSync(path, 'utf8')`. */
  readFile?: ReadTextFile;
}

/** Where the client's current copy came from. */
export type FlagSource = 'stream' | 'poll' | 'bootstrap' | 'environment';

/** Payload of the `change` event. */
export interface FlagChangeEvent {
  /** Keys whose effective definition was added, removed or modified, sorted. */
  changed: string[];
  /** Server revision of the new copy (the stream's event id), when known. */
  revision: string | undefined;
  source: FlagSource;
}

/** Events of a {@link FlagClient}. */
export interface FlagClientEvents extends Record<string, unknown> {
  /** The first usable copy is loaded (once). */
  ready: { source: FlagSource };
  /** The effective flags changed. */
  change: FlagChangeEvent;
  /** A stream, polling or payload problem (`FLAG_STREAM_FAILED`, `FLAG_POLL_FAILED`, `FLAG_PAYLOAD_INVALID`, …); the client keeps serving its copy and retrying. */
  error: CutoverError;
  /** The copy became older than `staleAfterMs`. */
  stale: { stalenessMs: number };
  /** The copy is confirmed fresh again after `stale` or `error`. */
  fresh: { source: FlagSource };
}

/** Connection state of a {@link FlagClient}. */
export type FlagClientState = 'connecting' | 'streaming' | 'polling' | 'offline' | 'closed';

/** Snapshot returned by {@link FlagClient.status}. */
export interface FlagClientStatus {
  state: FlagClientState;
  /** A copy is loaded (bootstrap, environment or server). */
  ready: boolean;
  /** Where the current copy came from (`undefined` before the first one). */
  source: FlagSource | undefined;
  /** Server revision of the current copy (stream event id), when known. */
  revision: string | undefined;
  /** ETag of the last polled copy. */
  etag: string | undefined;
  /** See {@link FlagClient.staleness} (ms). */
  stalenessMs: number;
  stale: boolean;
  lastError: CutoverError | undefined;
  /** Counters since creation. */
  stats: {
    streamConnects: number;
    streamFailures: number;
    polls: number;
    notModified: number;
    changes: number;
  };
}

/** A flag client: see {@link createFlagClient}. */
export interface FlagClient {
  /**
   * Whether flag `name` is on for `context` (defaults: the client's `environment`
   * and `appName`). Returns `defaultValue` (default false) when the flag is unknown
   * or no copy is loaded yet. Never throws.
   */
  isEnabled(name: string, context?: FlagContext, defaultValue?: boolean): boolean;
  /** The variant of flag `name` for `context` (`{ name: 'disabled', enabled: false }` when none). Never throws. */
  getVariant(name: string, context?: FlagContext): VariantResult;
  /**
   * The full result with its reason (`TARGETING_MATCH`, `SPLIT`, `DEFAULT`,
   * `DISABLED`, `STATIC`, `STALE`, `ERROR` with `errorCode` `FLAG_NOT_FOUND` or
   * `PROVIDER_NOT_READY`). Never throws.
   */
  evaluate(name: string, context?: FlagContext): FlagEvaluation;
  /**
   * Resolves once a copy is loaded (at once with a bootstrap or offline).
   * @throws CutoverError `FLAG_CLIENT_NOT_READY` (unavailable) after `timeoutMs`
   *   (default `readyTimeoutMs`), `FLAG_CLIENT_CLOSED` (refused) when closed first.
   */
  ready(timeoutMs?: number): Promise<void>;
  /**
   * Milliseconds since the copy was last confirmed fresh: since the last bytes
   * received on the stream (an event or a heartbeat, so at most the server's
   * heartbeat interval while connected), the last 200/304 poll, or the
   * bootstrap load; `Infinity` before any copy; always 0 offline (no `url`).
   */
  staleness(): number;
  /** `staleness() > staleAfterMs`. */
  isStale(): boolean;
  /** Connection state, revision, counters. */
  status(): FlagClientStatus;
  /** The effective copy (server or bootstrap, with environment overrides applied), or `undefined`. */
  features(): ClientFeaturesResponse | undefined;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof FlagClientEvents>(
    event: K,
    listener: (payload: FlagClientEvents[K]) => void,
  ): () => void;
  off<K extends keyof FlagClientEvents>(
    event: K,
    listener: (payload: FlagClientEvents[K]) => void,
  ): void;
  /** Stops streaming and polling and removes listeners. Evaluation keeps working on the last copy. */
  close(): Promise<void>;
}
