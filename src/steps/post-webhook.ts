import { CutoverError } from '../errors/index.js';

/** Options of {@link postWebhook}. */
export interface PostWebhookOptions {
  /** Per-attempt timeout, ms. Default 5 000. */
  timeoutMs?: number;
  /** Attempts in total (network errors and 5xx/429 are retried). Default 3. */
  attempts?: number;
  /** Pause between attempts, ms (doubled each time). Default 500. */
  backoffMs?: number;
  /** Aborts the delivery (and the pauses between attempts). */
  signal?: AbortSignal;
  /** The `fetch` to use. Default the global one. */
  fetch?: typeof fetch;
  /** Sleep between attempts. Default `setTimeout`. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Result of a delivered webhook. */
export interface WebhookDelivery {
  /** HTTP status of the last attempt. */
  status: number;
  attempts: number;
}

/**
 * POSTs `body` as JSON to `url` (a webhook: Slack incoming webhooks, Teams,
 * or any HTTP endpoint). Retries network errors, timeouts, 429 and 5xx with
 * exponential backoff; a 4xx other than 429 is final.
 *
 * @throws CutoverError `WEBHOOK_FAILED` (unavailable) naming the URL's origin
 *   (never its path, which often holds a secret) and the last status or error.
 */
export async function postWebhook(
  url: string,
  body: unknown,
  options: PostWebhookOptions = {},
): Promise<WebhookDelivery> {
  const doFetch = options.fetch ?? fetch;
  const attempts = Math.max(1, options.attempts ?? 3);
  const sleep =
    options.sleep ??
    ((ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        });
      }));
  let backoff = options.backoffMs ?? 500;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 5_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'cutover' },
        body: JSON.stringify(body),
        signal,
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { status: response.status, attempts: attempt };
      last = `HTTP ${response.status}`;
      if (response.status < 500 && response.status !== 429) break;
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      last = timeout.aborted
        ? `no answer within ${options.timeoutMs ?? 5_000} ms`
        : error instanceof Error
          ? error.cause instanceof Error
            ? error.cause.message
            : error.message
          : String(error);
    }
    if (attempt < attempts) {
      await sleep(backoff, options.signal);
      backoff *= 2;
    }
  }
  const origin = safeOrigin(url);
  throw new CutoverError('WEBHOOK_FAILED', 'unavailable', `Webhook ${origin} failed: ${last}.`, {
    location: origin,
    hint: 'Check the webhook URL and that the receiving service is up.',
  });
}

/** The origin of a URL (`https://hooks.slack.com`), for messages without secrets. */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '<invalid URL>';
  }
}
