import { CutoverError, isCutoverError } from '../errors/index.js';
import type { StaticContext } from '../flags/context-value.js';
import { createEvaluator } from '../flags/create-evaluator.js';
import type { Evaluation, FlagEvaluator, VariantResult } from '../flags/create-evaluator.js';
import type { ClientFeaturesResponse, FlagContext } from '../flags/model.js';
import { reconnectDelay } from './backoff.js';
import type { ReconnectBackoff } from './backoff.js';
import { diffFeatures } from './diff-features.js';
import { applyFlagEnv } from './env-flags.js';
import type { EnvFlagOverride } from './env-flags.js';
import { FeaturePoller } from './feature-poller.js';
import { FeatureStream } from './feature-stream.js';
import { closedError, wrapError } from './flag-client-errors.js';
import { resolveClientSettings } from './flag-client-settings.js';
import type {
  FlagClient,
  FlagClientEvents,
  FlagClientOptions,
  FlagClientState,
  FlagClientStatus,
  FlagEvaluation,
  FlagSource,
} from './flag-client-types.js';
import { Listeners } from './listeners.js';
import { parseClientFeatures } from './parse-features.js';

export type {
  FlagChangeEvent,
  FlagClient,
  FlagClientEvents,
  FlagClientOptions,
  FlagClientState,
  FlagClientStatus,
  FlagErrorCode,
  FlagEvaluation,
  FlagReason,
  FlagSource,
} from './flag-client-types.js';

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
  readonly #staleAfterMs: number;
  readonly #readyTimeoutMs: number;
  readonly #backoff: ReconnectBackoff;
  readonly #streaming: boolean;
  readonly #staticContext: StaticContext;
  readonly #featuresUrl: string | undefined;
  readonly #streamUrl: string | undefined;
  readonly #overrides: ReadonlyMap<string, EnvFlagOverride>;
  readonly #bootstrap: ClientFeaturesResponse | undefined;
  readonly #listeners: Listeners<FlagClientEvents>;
  readonly #stream: FeatureStream | undefined;
  readonly #poller: FeaturePoller | undefined;

  #state: FlagClientState;
  #serverCopy: ClientFeaturesResponse | undefined;
  #effective: ClientFeaturesResponse | undefined;
  #names = new Set<string>();
  #evaluator: FlagEvaluator | undefined;
  #source: FlagSource | undefined;
  #revision: string | undefined;
  #confirmedAt: number | undefined;
  #streamOpen = false;
  #streamAttempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #staleTimer: ReturnType<typeof setTimeout> | undefined;
  #staleEmitted = false;
  #errorSinceConfirm = false;
  #lastError: CutoverError | undefined;
  #readyWaiters = new Set<{ resolve: () => void; reject: (error: CutoverError) => void }>();
  #stats = { streamConnects: 0, streamFailures: 0, polls: 0, notModified: 0, changes: 0 };

  constructor(options: FlagClientOptions) {
    const settings = resolveClientSettings(options);
    this.#clock = settings.clock;
    this.#random = settings.random;
    this.#staleAfterMs = settings.staleAfterMs;
    this.#readyTimeoutMs = settings.readyTimeoutMs;
    this.#backoff = settings.backoff;
    this.#streaming = settings.streaming;
    this.#staticContext = settings.staticContext;
    this.#overrides = settings.overrides;
    this.#bootstrap = settings.bootstrap;
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

    const urls = settings.urls;
    if (urls === undefined) {
      this.#state = 'offline';
      this.#rebuild(this.#bootstrap === undefined ? 'environment' : 'bootstrap', undefined);
      return;
    }
    this.#featuresUrl = urls.features;
    this.#streamUrl = urls.stream;
    this.#poller = new FeaturePoller({
      url: urls.features,
      headers: settings.headers,
      fetch: settings.fetch,
      intervalMs: settings.pollIntervalMs,
      requestTimeoutMs: settings.requestTimeoutMs,
      onRequest: () => {
        this.#stats.polls += 1;
      },
      onNotModified: () => {
        this.#stats.notModified += 1;
        this.#confirm('poll');
      },
      onFeatures: (copy) => {
        this.#serverCopy = copy;
        this.#rebuild('poll', undefined);
        this.#confirm('poll');
      },
      onError: (error) => this.#fail(error),
    });
    if (this.#streaming) {
      this.#stream = new FeatureStream({
        url: urls.stream,
        headers: settings.headers,
        fetch: settings.fetch,
        idleTimeoutMs: settings.streamIdleTimeoutMs,
        onFeatures: (data, lastEventId) => this.#onStreamFeatures(data, lastEventId),
        onBytes: () => {
          if (this.#streamOpen) this.#confirm('stream');
        },
        onFailure: (code, message) => this.#onStreamFailure(code, message),
      });
    }
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
      etag: this.#poller?.etag,
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
    if (this.#stream === undefined || this.#state === 'closed') return;
    this.#stream.connect();
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
    this.#stream?.close();
  }

  // ── polling ────────────────────────────────────────────────────────────

  #startPolling(): void {
    if (this.#poller === undefined || this.#poller.active || this.#state === 'closed') return;
    if (!this.#streaming) this.#state = 'polling';
    this.#poller.start();
  }

  #stopPolling(): void {
    this.#poller?.stop();
  }
}
