import { CutoverError, isCutoverError } from '../errors/index.js';
import type { ClientFeaturesResponse } from '../flags/model.js';
import { wrapError } from './flag-client-errors.js';
import { parseClientFeatures } from './parse-features.js';

/** Options of {@link FeaturePoller}. */
export interface FeaturePollerOptions {
  /** `{url}/api/client/features`. */
  url: string;
  /** Headers of every request (`Authorization`, `UNLEASH-APPNAME`). */
  headers: Readonly<Record<string, string>>;
  fetch: typeof globalThis.fetch;
  /** Delay (ms) between the end of one request and the next. */
  intervalMs: number;
  /** Timeout (ms) of one request. */
  requestTimeoutMs: number;
  /** A request is about to be sent. */
  onRequest(): void;
  /** The server answered 304: the copy is current. */
  onNotModified(): void;
  /** The server answered 200 with a valid payload ({@link FeaturePoller.etag} is already its ETag). */
  onFeatures(copy: ClientFeaturesResponse): void;
  /**
   * A request failed: `FLAG_POLL_FAILED` (status-dependent category), the
   * errors of {@link parseClientFeatures}, or whatever `onFeatures` threw.
   */
  onError(error: CutoverError): void;
}

/**
 * ETag polling of `GET /api/client/features` (`If-None-Match` with the last
 * ETag): one request at a time, the next `intervalMs` after the previous one
 * ends, until {@link FeaturePoller.stop}. An answer that arrives after `stop()`
 * is dropped. Timers are unref'ed.
 */
export class FeaturePoller {
  readonly #options: FeaturePollerOptions;
  #active = false;
  /** Bumped by every stop(), so a request from before is recognised when it returns. */
  #generation = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort: AbortController | undefined;
  #etag: string | undefined;

  constructor(options: FeaturePollerOptions) {
    this.#options = options;
  }

  /** Polling is on. */
  get active(): boolean {
    return this.#active;
  }

  /** ETag of the last copy received. */
  get etag(): string | undefined {
    return this.#etag;
  }

  /** Starts polling (a request at once) unless it is on already. */
  start(): void {
    if (this.#active) return;
    this.#active = true;
    void this.#poll();
  }

  /** Stops polling and aborts the request in flight. */
  stop(): void {
    this.#active = false;
    this.#generation += 1;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    this.#abort = undefined;
  }

  async #poll(): Promise<void> {
    const { url, headers } = this.#options;
    if (!this.#active) return;
    const generation = this.#generation;
    const abort = new AbortController();
    this.#abort = abort;
    const timeout = setTimeout(() => abort.abort(), this.#options.requestTimeoutMs);
    timeout.unref();
    this.#options.onRequest();
    try {
      const response = await this.#options.fetch(url, {
        headers: {
          ...headers,
          Accept: 'application/json',
          ...(this.#etag === undefined ? {} : { 'If-None-Match': this.#etag }),
        },
        signal: abort.signal,
      });
      if (!this.#active || generation !== this.#generation) {
        await response.body?.cancel();
        return;
      }
      if (response.status === 304) {
        await response.body?.cancel();
        this.#options.onNotModified();
      } else if (response.status === 200) {
        const json: unknown = await response.json();
        if (!this.#active || generation !== this.#generation) return;
        const copy = parseClientFeatures(json, url);
        this.#etag = response.headers.get('etag') ?? undefined;
        this.#options.onFeatures(copy);
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
      if (!this.#active) return;
      this.#options.onError(
        isCutoverError(error)
          ? error
          : wrapError('FLAG_POLL_FAILED', 'unavailable', `GET ${url} failed.`, error, url),
      );
    } finally {
      clearTimeout(timeout);
      if (this.#abort === abort) this.#abort = undefined;
      if (this.#active) {
        const timer = setTimeout(() => {
          this.#timer = undefined;
          void this.#poll();
        }, this.#options.intervalMs);
        timer.unref();
        this.#timer = timer;
      }
    }
  }
}
