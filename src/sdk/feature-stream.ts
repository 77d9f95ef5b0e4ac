import { EventSource } from 'eventsource';

/** Options of {@link FeatureStream}. */
export interface FeatureStreamOptions {
  /** `{url}/api/client/stream`. */
  url: string;
  /** Headers of the request (`Authorization`, `UNLEASH-APPNAME`). */
  headers: Readonly<Record<string, string>>;
  fetch: typeof globalThis.fetch;
  /** A connection that receives nothing (no event, no heartbeat) for this long (ms) is reported failed. */
  idleTimeoutMs: number;
  /** An event `features` arrived: its data and its `id` (`''` when none). */
  onFeatures(data: unknown, lastEventId: string): void;
  /** Bytes arrived on the connection (an event or a `: ping` heartbeat). */
  onBytes(): void;
  /**
   * The connection failed (network error, non-200 status: `code`) or stayed
   * silent for `idleTimeoutMs`. The stream does not reconnect by itself: the
   * caller closes it and calls {@link FeatureStream.connect} again.
   */
  onFailure(code: number | undefined, message: string | undefined): void;
}

/**
 * One Server-Sent Events connection to `GET /api/client/stream` at a time,
 * through the `eventsource` package (a WHATWG-conformant parser that takes a
 * custom `fetch`, so the token travels in the `Authorization` header). Every
 * chunk received is observed (staleness, idle watchdog). Timers are unref'ed.
 */
export class FeatureStream {
  readonly #options: FeatureStreamOptions;
  #eventSource: EventSource | undefined;
  #connection: { alive: boolean } | undefined;
  #lastByte = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: FeatureStreamOptions) {
    this.#options = options;
  }

  /** Opens a connection. */
  connect(): void {
    const { url, headers } = this.#options;
    const connection = { alive: true };
    const eventSource = new EventSource(url, {
      fetch: async (input, init) => {
        const response = await this.#options.fetch(input, {
          ...init,
          headers: { ...init.headers, ...headers },
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
                if (connection.alive) this.#onBytes();
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
    this.#connection = connection;
    this.#lastByte = performance.now();
    this.#armIdleWatchdog();
    eventSource.addEventListener('features', (event) => {
      if (this.#eventSource !== eventSource) return;
      this.#options.onFeatures(event.data, event.lastEventId);
    });
    eventSource.addEventListener('error', (event) => {
      if (this.#eventSource !== eventSource) return;
      this.#options.onFailure(event.code, event.message);
    });
  }

  /** Closes the connection (nothing is reported for it afterwards). */
  close(): void {
    const eventSource = this.#eventSource;
    this.#eventSource = undefined;
    if (this.#connection !== undefined) this.#connection.alive = false;
    this.#connection = undefined;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    eventSource?.close();
  }

  /** Bytes arrived on the stream: the connection is alive, so the copy is current. */
  #onBytes(): void {
    this.#lastByte = performance.now();
    this.#options.onBytes();
  }

  /** Treats a stream silent for `idleTimeoutMs` (no event, no heartbeat) as dead. */
  #armIdleWatchdog(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    const idleTimeoutMs = this.#options.idleTimeoutMs;
    const remaining = idleTimeoutMs - (performance.now() - this.#lastByte);
    const timer = setTimeout(
      () => {
        this.#idleTimer = undefined;
        if (this.#eventSource === undefined) return;
        if (performance.now() - this.#lastByte >= idleTimeoutMs) {
          this.#options.onFailure(undefined, `no data or heartbeat for ${idleTimeoutMs} ms`);
        } else {
          this.#armIdleWatchdog();
        }
      },
      Math.max(remaining, 1),
    );
    timer.unref();
    this.#idleTimer = timer;
  }
}
