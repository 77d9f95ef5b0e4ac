import { EventSource } from 'eventsource';
import { CutoverError, isCutoverError } from '../errors/index.js';
import type { ClientFeaturesResponse, FeatureDefinition, FlagContext } from '../flags/model.js';
import { createEvaluator } from '../flags/create-evaluator.js';
import type {
  Evaluation,
  EvaluationErrorCode,
  EvaluationReason,
  FlagEvaluator,
  VariantResult,
} from '../flags/create-evaluator.js';
import type { StaticContext } from '../flags/context-value.js';
import { reconnectDelay } from './backoff.js';
import type { ReconnectBackoff } from './backoff.js';
import { applyFlagEnv, parseFlagEnv } from './env-flags.js';
import type { EnvFlagOverride } from './env-flags.js';
import { Listeners } from './listeners.js';
import { loadBootstrap, readTextFile } from './load-bootstrap.js';
import type { ReadTextFile } from './load-bootstrap.js';
import { parseClientFeatures } from './parse-features.js';

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

const DEFAULTS = {
  appName: 'cutover-sdk',
  staleAfterMs: 60_000,
  pollIntervalMs: 15_000,
  readyTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  streamIdleTimeoutMs: 45_000,
} as const;

const NOT_READY_VARIANT: VariantResult = {
  name: 'disabled',
  enabled: false,
  feature_enabled: false,
};

/**
 * Creates a flag client that evaluates locally, synchronously, from an
 * in-memory copy of the flags of one environment.
 *
 * Updates: over Server-Sent Events (`GET {url}/api/client/stream`, event
 * `features` carrying the whole `/api/client/features` payload, `id` = revision)
 * through the `eventsource` package (a WHATWG-conformant parser that takes a
 * custom `fetch`, so the token travels in the `Authorization` header). When the
 * stream fails (network error, server restart, non-200 status), the client
 * reconnects with exponential backoff and jitter ({@link reconnectDelay}) and, until
 * the stream is back, polls `GET {url}/api/client/features` every `pollIntervalMs`
 * with `If-None-Match` (304 confirms the copy is fresh). With `streaming: false`
 * it only polls.
 *
 * Precedence of values: `CUTOVER_FLAG_*` environment variables > the server's
 * copy > the bootstrap.
 *
 * The client keeps a socket open while streaming: call {@link FlagClient.close}
 * at shutdown. Its timers are unref'ed.
 *
 * @throws CutoverError `FLAG_ENV_INVALID` (config) when a `CUTOVER_FLAG_*` variable is
 *   malformed (all of them listed), the bootstrap errors of {@link loadBootstrap},
 *   `FLAG_CLIENT_CONFIG_INVALID` (config) for a bad `url` or option.
 */
export function createFlagClient(options: FlagClientOptions = {}): FlagClient {
  return new FlagClientImpl(options);
}

class FlagClientImpl implements FlagClient {
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #staleAfterMs: number;
  readonly #pollIntervalMs: number;
  readonly #readyTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #streamIdleTimeoutMs: number;
  readonly #backoff: ReconnectBackoff;
  readonly #streaming: boolean;
  readonly #staticContext: StaticContext;
  readonly #headers: Record<string, string>;
  readonly #featuresUrl: string | undefined;
  readonly #streamUrl: string | undefined;
  readonly #overrides: ReadonlyMap<string, EnvFlagOverride>;
  readonly #bootstrap: ClientFeaturesResponse | undefined;
  readonly #listeners: Listeners<FlagClientEvents>;

  #state: FlagClientState;
  #serverCopy: ClientFeaturesResponse | undefined;
  #effective: ClientFeaturesResponse | undefined;
  #names = new Set<string>();
  #evaluator: FlagEvaluator | undefined;
  #source: FlagSource | undefined;
  #revision: string | undefined;
  #etag: string | undefined;
  #confirmedAt: number | undefined;
  #streamOpen = false;
  #streamEpoch = 0;
  #streamAttempt = 0;
  #eventSource: EventSource | undefined;
  #streamConnection: { alive: boolean } | undefined;
  #lastStreamByte = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #pollAbort: AbortController | undefined;
  #staleTimer: ReturnType<typeof setTimeout> | undefined;
  #staleEmitted = false;
  #errorSinceConfirm = false;
  #lastError: CutoverError | undefined;
  #readyWaiters = new Set<{ resolve: () => void; reject: (error: CutoverError) => void }>();
  #stats = { streamConnects: 0, streamFailures: 0, polls: 0, notModified: 0, changes: 0 };

  constructor(options: FlagClientOptions) {
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#staleAfterMs = nonNegative(options.staleAfterMs, 'staleAfterMs', DEFAULTS.staleAfterMs);
    this.#pollIntervalMs = nonNegative(
      options.pollIntervalMs,
      'pollIntervalMs',
      DEFAULTS.pollIntervalMs,
    );
    this.#readyTimeoutMs = nonNegative(
      options.readyTimeoutMs,
      'readyTimeoutMs',
      DEFAULTS.readyTimeoutMs,
    );
    this.#requestTimeoutMs = nonNegative(
      options.requestTimeoutMs,
      'requestTimeoutMs',
      DEFAULTS.requestTimeoutMs,
    );
    this.#streamIdleTimeoutMs = nonNegative(
      options.streamIdleTimeoutMs,
      'streamIdleTimeoutMs',
      DEFAULTS.streamIdleTimeoutMs,
    );
    this.#backoff = options.backoff ?? {};
    this.#streaming = options.streaming ?? true;
    const appName = options.appName ?? DEFAULTS.appName;
    this.#staticContext = {
      appName,
      ...(options.environment === undefined ? {} : { environment: options.environment }),
    };
    this.#headers = {
      'UNLEASH-APPNAME': appName,
      ...(options.token === undefined ? {} : { Authorization: options.token }),
    };
    this.#listeners = new Listeners<FlagClientEvents>((error, event) => {
      if (event !== 'error')
        this.#fail(
          wrapError(
            'FLAG_LISTENER_FAILED',
            'failed',
            `A "${String(event)}" listener threw.`,
            error,
          ),
        );
    });

    const env = options.env === undefined ? process.env : options.env;
    if (env === false) {
      this.#overrides = new Map();
    } else {
      const parsed = parseFlagEnv(env);
      if (parsed.errors.length > 0) {
        const first = parsed.errors[0];
        throw new CutoverError(
          'FLAG_ENV_INVALID',
          'config',
          parsed.errors.map((e) => e.message).join(' '),
          {
            location: parsed.errors.map((e) => e.location).join(', '),
            ...(first?.hint === undefined ? {} : { hint: first.hint }),
            details: { variables: parsed.errors.map((e) => e.location) },
          },
        );
      }
      this.#overrides = parsed.overrides;
    }

    this.#bootstrap =
      options.bootstrap === undefined
        ? undefined
        : loadBootstrap(options.bootstrap, options.readFile ?? readTextFile);

    if (options.url === undefined || options.url === '') {
      this.#state = 'offline';
      this.#rebuild(this.#bootstrap === undefined ? 'environment' : 'bootstrap', undefined);
      return;
    }
    const base = parseBaseUrl(options.url);
    this.#featuresUrl = `${base}/api/client/features`;
    this.#streamUrl = `${base}/api/client/stream`;
    this.#state = 'connecting';
    if (this.#bootstrap !== undefined) {
      this.#confirmedAt = this.#clock();
      this.#rebuild('bootstrap', undefined);
      this.#scheduleStaleCheck();
    }
    if (this.#streaming) this.#connectStream();
    else this.#startPolling();
  }

  // ── evaluation ─────────────────────────────────────────────────────────

  isEnabled(name: string, context?: FlagContext, defaultValue = false): boolean {
    const evaluator = this.#evaluator;
    if (evaluator === undefined || !this.#names.has(name)) return defaultValue;
    try {
      return evaluator.isEnabled(name, context);
    } catch {
      return defaultValue;
    }
  }

  getVariant(name: string, context?: FlagContext): VariantResult {
    const evaluator = this.#evaluator;
    if (evaluator === undefined) return { ...NOT_READY_VARIANT };
    try {
      return evaluator.getVariant(name, context);
    } catch {
      return { ...NOT_READY_VARIANT };
    }
  }

  evaluate(name: string, context?: FlagContext): FlagEvaluation {
    const evaluator = this.#evaluator;
    if (evaluator === undefined) {
      return {
        enabled: false,
        variant: { ...NOT_READY_VARIANT },
        reason: 'ERROR',
        errorCode: 'PROVIDER_NOT_READY',
        errorMessage: `No flags loaded yet from ${this.#featuresUrl ?? 'the server'}.`,
      };
    }
    let evaluation: Evaluation;
    try {
      evaluation = evaluator.evaluate(name, context);
    } catch (error) {
      return {
        enabled: false,
        variant: { ...NOT_READY_VARIANT },
        reason: 'ERROR',
        errorCode: 'GENERAL' as const,
        errorMessage: error instanceof Error ? error.message : String(error),
      };
    }
    // An unknown flag comes back from the evaluator as DEFAULT + FLAG_NOT_FOUND; as in OpenFeature, any error code means reason ERROR.
    if (evaluation.errorCode !== undefined) return { ...evaluation, reason: 'ERROR' };
    if (evaluation.reason === 'ERROR' || !this.#checkStale()) return evaluation;
    return { ...evaluation, reason: 'STALE', staleReason: evaluation.reason };
  }

  // ── state ──────────────────────────────────────────────────────────────

  ready(timeoutMs = this.#readyTimeoutMs): Promise<void> {
    if (this.#evaluator !== undefined) return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(waiter);
        reject(
          new CutoverError(
            'FLAG_CLIENT_NOT_READY',
            'unavailable',
            `No flags received from ${this.#featuresUrl ?? 'the server'} within ${timeoutMs} ms.`,
            {
              ...(this.#featuresUrl === undefined ? {} : { location: this.#featuresUrl }),
              hint: 'Check that `cutover serve` is reachable and the client token is valid, or give a bootstrap.',
              ...(this.#lastError === undefined ? {} : { cause: this.#lastError }),
            },
          ),
        );
      }, timeoutMs);
      timer.unref();
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: CutoverError) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#readyWaiters.add(waiter);
    });
  }

  staleness(): number {
    if (this.#state === 'offline') return 0;
    if (this.#confirmedAt === undefined) return Infinity;
    return Math.max(0, this.#clock() - this.#confirmedAt);
  }

  isStale(): boolean {
    return this.staleness() > this.#staleAfterMs;
  }

  status(): FlagClientStatus {
    return {
      state: this.#state,
      ready: this.#evaluator !== undefined,
      source: this.#source,
      revision: this.#revision,
      etag: this.#etag,
      stalenessMs: this.staleness(),
      stale: this.isStale(),
      lastError: this.#lastError,
      stats: { ...this.#stats },
    };
  }

  features(): ClientFeaturesResponse | undefined {
    return this.#effective;
  }

  on<K extends keyof FlagClientEvents>(
    event: K,
    listener: (payload: FlagClientEvents[K]) => void,
  ): () => void {
    return this.#listeners.on(event, listener);
  }

  off<K extends keyof FlagClientEvents>(
    event: K,
    listener: (payload: FlagClientEvents[K]) => void,
  ): void {
    this.#listeners.off(event, listener);
  }

  close(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    this.#state = 'closed';
    this.#closeStream();
    this.#stopPolling();
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    if (this.#staleTimer !== undefined) clearTimeout(this.#staleTimer);
    this.#reconnectTimer = undefined;
    this.#staleTimer = undefined;
    for (const waiter of this.#readyWaiters) waiter.reject(closedError());
    this.#readyWaiters.clear();
    this.#listeners.clear();
    return Promise.resolve();
  }

  // ── copy ───────────────────────────────────────────────────────────────

  /** Recomputes the effective copy and evaluator; emits `ready` / `change`. */
  #rebuild(source: FlagSource, revision: string | undefined): void {
    const base = this.#serverCopy ?? this.#bootstrap ?? { version: 2, features: [] };
    const effective = applyFlagEnv(base, this.#overrides);
    const evaluator = createEvaluator(effective, {
      staticContext: this.#staticContext,
      now: () => new Date(this.#clock()),
      random: this.#random,
    });
    const previous = this.#effective;
    const wasReady = this.#evaluator !== undefined;
    this.#effective = effective;
    this.#names = new Set(effective.features.map((f) => f.name));
    this.#evaluator = evaluator;
    this.#source = source;
    if (revision !== undefined) this.#revision = revision;
    if (!wasReady) {
      for (const waiter of this.#readyWaiters) waiter.resolve();
      this.#readyWaiters.clear();
      // Deferred so listeners added right after createFlagClient() see it.
      queueMicrotask(() => {
        if (this.#state !== 'closed') this.#listeners.emit('ready', { source });
      });
      return;
    }
    const changed = diffFeatures(previous, effective);
    if (changed.length === 0) return;
    this.#stats.changes += 1;
    this.#listeners.emit('change', { changed, revision: this.#revision, source });
  }

  #confirm(source: FlagSource): void {
    this.#confirmedAt = this.#clock();
    if (this.#staleEmitted || this.#errorSinceConfirm) {
      this.#staleEmitted = false;
      this.#errorSinceConfirm = false;
      this.#listeners.emit('fresh', { source });
    }
    if (this.#staleTimer === undefined) this.#scheduleStaleCheck();
  }

  /** True when stale; emits `stale` on the transition. */
  #checkStale(): boolean {
    const stale = this.isStale();
    if (stale && !this.#staleEmitted && this.#state !== 'closed') {
      this.#staleEmitted = true;
      this.#listeners.emit('stale', { stalenessMs: this.staleness() });
    }
    return stale;
  }

  /** One timer at a time: fires when the copy would turn stale, re-arms while it is not. */
  #scheduleStaleCheck(): void {
    if (this.#staleTimer !== undefined) clearTimeout(this.#staleTimer);
    this.#staleTimer = undefined;
    if (this.#state === 'closed' || this.#confirmedAt === undefined) return;
    const remaining = this.#staleAfterMs - this.staleness();
    const timer = setTimeout(
      () => {
        this.#staleTimer = undefined;
        if (!this.#checkStale()) this.#scheduleStaleCheck();
      },
      Math.min(Math.max(remaining, 0) + 1, 2 ** 31 - 1),
    );
    timer.unref();
    this.#staleTimer = timer;
  }

  #fail(error: CutoverError): void {
    this.#lastError = error;
    this.#errorSinceConfirm = true;
    this.#listeners.emit('error', error);
  }

  // ── streaming ──────────────────────────────────────────────────────────

  #connectStream(): void {
    const url = this.#streamUrl;
    if (url === undefined || this.#state === 'closed') return;
    const connection = { alive: true };
    const eventSource = new EventSource(url, {
      fetch: async (input, init) => {
        const response = await this.#fetch(input, {
          ...init,
          headers: { ...init.headers, ...this.#headers },
        });
        const body = response.body;
        if (body === null) return response;
        // Observe every chunk (events and `: ping` heartbeats) for staleness and the idle watchdog.
        const observed = {
          getReader: () => {
            const reader = body.getReader();
            return {
              read: async () => {
                const result = await reader.read();
                if (connection.alive) this.#onStreamBytes();
                return result;
              },
              cancel: () => reader.cancel(),
            };
          },
        };
        return {
          body: observed,
          url: response.url,
          status: response.status,
          redirected: response.redirected,
          headers: response.headers,
        };
      },
    });
    this.#eventSource = eventSource;
    this.#streamConnection = connection;
    this.#lastStreamByte = performance.now();
    this.#armIdleWatchdog();
    eventSource.addEventListener('features', (event) => {
      if (this.#eventSource !== eventSource) return;
      this.#onStreamFeatures(event.data, event.lastEventId);
    });
    eventSource.addEventListener('error', (event) => {
      if (this.#eventSource !== eventSource) return;
      this.#onStreamFailure(event.code, event.message);
    });
  }

  #onStreamFeatures(data: unknown, lastEventId: string): void {
    let copy: ClientFeaturesResponse;
    try {
      copy = parseClientFeatures(JSON.parse(String(data)), this.#streamUrl ?? 'stream');
    } catch (error) {
      this.#fail(
        isCutoverError(error)
          ? error
          : wrapError(
              'FLAG_PAYLOAD_INVALID',
              'config',
              `The stream ${this.#streamUrl ?? ''} sent invalid JSON.`,
              error,
            ),
      );
      return;
    }
    this.#streamEpoch += 1;
    if (!this.#streamOpen) this.#stats.streamConnects += 1;
    this.#streamOpen = true;
    this.#streamAttempt = 0;
    this.#stopPolling();
    this.#state = 'streaming';
    this.#serverCopy = copy;
    try {
      this.#rebuild('stream', lastEventId === '' ? undefined : lastEventId);
    } catch (error) {
      // Never let an exception escape an EventSource listener (Node reports those as uncaught).
      this.#fail(
        wrapError('FLAG_PAYLOAD_INVALID', 'config', 'Cannot apply the streamed flags.', error),
      );
      return;
    }
    this.#confirm('stream');
  }

  #onStreamFailure(code: number | undefined, message: string | undefined): void {
    if (this.#state === 'closed') return;
    this.#closeStream();
    this.#stats.streamFailures += 1;
    this.#streamOpen = false;
    const category =
      code === 401 ? 'unauthorized' : code === 403 ? 'forbidden' : ('unavailable' as const);
    this.#fail(
      new CutoverError(
        'FLAG_STREAM_FAILED',
        category,
        `The flag stream ${this.#streamUrl ?? ''} failed${code === undefined ? '' : ` with HTTP ${code}`}${message === undefined || message === '' ? '' : `: ${message}`}.`,
        {
          ...(this.#streamUrl === undefined ? {} : { location: this.#streamUrl }),
          hint:
            category === 'unavailable'
              ? 'The client polls GET /api/client/features meanwhile and reconnects with backoff.'
              : 'Check the client token (cutover tokens list).',
          details: { status: code ?? null, attempt: this.#streamAttempt },
        },
      ),
    );
    this.#state = 'polling';
    this.#startPolling();
    const delay = reconnectDelay(this.#streamAttempt, this.#backoff, this.#random);
    this.#streamAttempt += 1;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    const timer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connectStream();
    }, delay);
    timer.unref();
    this.#reconnectTimer = timer;
  }

  #closeStream(): void {
    const eventSource = this.#eventSource;
    this.#eventSource = undefined;
    if (this.#streamConnection !== undefined) this.#streamConnection.alive = false;
    this.#streamConnection = undefined;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    eventSource?.close();
  }

  /** Bytes arrived on the stream: the connection is alive, so the copy is current. */
  #onStreamBytes(): void {
    this.#lastStreamByte = performance.now();
    if (this.#streamOpen) this.#confirm('stream');
  }

  /** Treats a stream silent for `streamIdleTimeoutMs` (no event, no heartbeat) as dead. */
  #armIdleWatchdog(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    const remaining = this.#streamIdleTimeoutMs - (performance.now() - this.#lastStreamByte);
    const timer = setTimeout(
      () => {
        this.#idleTimer = undefined;
        if (this.#eventSource === undefined) return;
        if (performance.now() - this.#lastStreamByte >= this.#streamIdleTimeoutMs) {
          this.#onStreamFailure(
            undefined,
            `no data or heartbeat for ${this.#streamIdleTimeoutMs} ms`,
          );
        } else {
          this.#armIdleWatchdog();
        }
      },
      Math.max(remaining, 1),
    );
    timer.unref();
    this.#idleTimer = timer;
  }

  // ── polling ────────────────────────────────────────────────────────────

  #startPolling(): void {
    if (this.#polling || this.#state === 'closed') return;
    this.#polling = true;
    if (!this.#streaming) this.#state = 'polling';
    void this.#poll();
  }

  #stopPolling(): void {
    this.#polling = false;
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#pollAbort?.abort();
    this.#pollAbort = undefined;
  }

  async #poll(): Promise<void> {
    const url = this.#featuresUrl;
    if (!this.#polling || url === undefined) return;
    const epoch = this.#streamEpoch;
    const abort = new AbortController();
    this.#pollAbort = abort;
    const timeout = setTimeout(() => abort.abort(), this.#requestTimeoutMs);
    timeout.unref();
    this.#stats.polls += 1;
    try {
      const response = await this.#fetch(url, {
        headers: {
          ...this.#headers,
          Accept: 'application/json',
          ...(this.#etag === undefined ? {} : { 'If-None-Match': this.#etag }),
        },
        signal: abort.signal,
      });
      if (!this.#polling || epoch !== this.#streamEpoch) {
        await response.body?.cancel();
        return;
      }
      if (response.status === 304) {
        await response.body?.cancel();
        this.#stats.notModified += 1;
        this.#confirm('poll');
      } else if (response.status === 200) {
        const json: unknown = await response.json();
        if (!this.#polling || epoch !== this.#streamEpoch) return;
        const copy = parseClientFeatures(json, url);
        this.#etag = response.headers.get('etag') ?? undefined;
        this.#serverCopy = copy;
        this.#rebuild('poll', undefined);
        this.#confirm('poll');
      } else {
        const body = await response.text().catch(() => '');
        throw new CutoverError(
          'FLAG_POLL_FAILED',
          response.status === 401
            ? 'unauthorized'
            : response.status === 403
              ? 'forbidden'
              : response.status === 404
                ? 'not_found'
                : 'unavailable',
          `GET ${url} answered HTTP ${response.status}${body === '' ? '' : `: ${body.slice(0, 200)}`}.`,
          {
            location: url,
            hint:
              response.status === 401 || response.status === 403
                ? 'Check the client token (cutover tokens list).'
                : 'Check the url option: the base URL of `cutover serve`.',
            details: { status: response.status },
          },
        );
      }
    } catch (error) {
      if (!this.#polling) return;
      this.#fail(
        isCutoverError(error)
          ? error
          : wrapError('FLAG_POLL_FAILED', 'unavailable', `GET ${url} failed.`, error, url),
      );
    } finally {
      clearTimeout(timeout);
      if (this.#pollAbort === abort) this.#pollAbort = undefined;
      if (this.#polling && this.#state !== 'closed') {
        const timer = setTimeout(() => {
          this.#pollTimer = undefined;
          void this.#poll();
        }, this.#pollIntervalMs);
        timer.unref();
        this.#pollTimer = timer;
      }
    }
  }
}

function diffFeatures(
  previous: ClientFeaturesResponse | undefined,
  next: ClientFeaturesResponse,
): string[] {
  const before = new Map<string, string>(
    (previous?.features ?? []).map((f) => [f.name, JSON.stringify(f)]),
  );
  const changedSegments = new Set<number>();
  const beforeSegments = new Map((previous?.segments ?? []).map((s) => [s.id, JSON.stringify(s)]));
  const afterSegments = new Map((next.segments ?? []).map((s) => [s.id, JSON.stringify(s)]));
  for (const id of new Set([...beforeSegments.keys(), ...afterSegments.keys()])) {
    if (beforeSegments.get(id) !== afterSegments.get(id)) changedSegments.add(id);
  }
  const usesChangedSegment = (f: FeatureDefinition): boolean =>
    changedSegments.size > 0 &&
    f.strategies.some((s) => (s.segments ?? []).some((id) => changedSegments.has(id)));
  const changed = new Set<string>();
  for (const feature of next.features) {
    const old = before.get(feature.name);
    if (old !== JSON.stringify(feature) || usesChangedSegment(feature)) changed.add(feature.name);
    before.delete(feature.name);
  }
  for (const name of before.keys()) changed.add(name);
  return [...changed].sort();
}

function parseBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new CutoverError(
      'FLAG_CLIENT_CONFIG_INVALID',
      'config',
      `The flag server url "${url}" is not a valid URL.`,
      {
        location: 'url',
        hint: 'Give the base URL of `cutover serve`, e.g. http://localhost:4242.',
        cause: error,
      },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CutoverError(
      'FLAG_CLIENT_CONFIG_INVALID',
      'config',
      `The flag server url "${url}" is not http(s).`,
      {
        location: 'url',
        hint: 'Give the base URL of `cutover serve`, e.g. http://localhost:4242.',
      },
    );
  }
  parsed.search = '';
  parsed.hash = '';
  return parsed
    .toString()
    .replace(/\/+$/, '')
    .replace(/\/api$/, '');
}

function nonNegative(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new CutoverError(
      'FLAG_CLIENT_CONFIG_INVALID',
      'config',
      `Option ${name} must be a non-negative number of ms, got ${String(value)}.`,
      {
        location: name,
        hint: `Omit ${name} for the default (${fallback} ms).`,
      },
    );
  }
  return value;
}

function closedError(): CutoverError {
  return new CutoverError(
    'FLAG_CLIENT_CLOSED',
    'refused',
    'The flag client was closed before it was ready.',
    {
      hint: 'Call ready() before close().',
    },
  );
}

function wrapError(
  code: string,
  category: 'failed' | 'unavailable' | 'config',
  message: string,
  cause: unknown,
  location?: string,
): CutoverError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CutoverError(code, category, `${message.replace(/\.$/, '')}: ${detail}.`, {
    ...(location === undefined ? {} : { location }),
    cause,
  });
}
