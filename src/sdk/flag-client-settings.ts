import { CutoverError } from '../errors/index.js';
import type { StaticContext } from '../flags/context-value.js';
import type { ClientFeaturesResponse } from '../flags/model.js';
import type { ReconnectBackoff } from './backoff.js';
import { parseFlagEnv, type EnvFlagOverride } from './env-flags.js';
import type { FlagClientOptions } from './flag-client-types.js';
import { loadBootstrap, readTextFile } from './load-bootstrap.js';

/** Defaults of {@link FlagClientOptions}. */
const DEFAULTS = {
  appName: 'cutover-sdk',
  staleAfterMs: 60_000,
  pollIntervalMs: 15_000,
  readyTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  streamIdleTimeoutMs: 45_000,
} as const;

/** {@link FlagClientOptions} checked, with defaults applied and the bootstrap loaded. */
export interface FlagClientSettings {
  clock: () => number;
  random: () => number;
  fetch: typeof globalThis.fetch;
  /** ms */
  staleAfterMs: number;
  /** ms */
  pollIntervalMs: number;
  /** ms */
  readyTimeoutMs: number;
  /** ms */
  requestTimeoutMs: number;
  /** ms */
  streamIdleTimeoutMs: number;
  backoff: ReconnectBackoff;
  streaming: boolean;
  /** Default context fields of every evaluation (`appName`, `environment`). */
  staticContext: StaticContext;
  /** Headers of every request (`UNLEASH-APPNAME`, `Authorization`). */
  headers: Record<string, string>;
  /** `CUTOVER_FLAG_*` overrides (empty when `env: false`). */
  overrides: ReadonlyMap<string, EnvFlagOverride>;
  bootstrap: ClientFeaturesResponse | undefined;
  /** `{url}/api/client/features` and `{url}/api/client/stream`; undefined offline (no `url`). */
  urls: { features: string; stream: string } | undefined;
}

/**
 * Checks `options` and applies the defaults, in this order: the durations,
 * the `CUTOVER_FLAG_*` variables, the bootstrap, the url.
 *
 * @throws CutoverError `FLAG_CLIENT_CONFIG_INVALID` (config) for a negative
 *   duration or a bad `url`, `FLAG_ENV_INVALID` (config) when a
 *   `CUTOVER_FLAG_*` variable is malformed (all of them listed), the errors of
 *   {@link loadBootstrap}.
 */
export function resolveClientSettings(options: FlagClientOptions): FlagClientSettings {
  const clock = options.clock ?? Date.now;
  const random = options.random ?? Math.random;
  const fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const duration = (name: Exclude<keyof typeof DEFAULTS, 'appName'>): number =>
    nonNegative(options[name], name, DEFAULTS[name]);
  // Checked in this order (the first bad one is reported).
  const staleAfterMs = duration('staleAfterMs');
  const pollIntervalMs = duration('pollIntervalMs');
  const readyTimeoutMs = duration('readyTimeoutMs');
  const requestTimeoutMs = duration('requestTimeoutMs');
  const streamIdleTimeoutMs = duration('streamIdleTimeoutMs');
  const appName = options.appName ?? DEFAULTS.appName;
  const staticContext: StaticContext = {
    appName,
    ...(options.environment === undefined ? {} : { environment: options.environment }),
  };
  const headers: Record<string, string> = {
    'UNLEASH-APPNAME': appName,
    ...(options.token === undefined ? {} : { Authorization: options.token }),
  };

  const env = options.env === undefined ? process.env : options.env;
  let overrides: ReadonlyMap<string, EnvFlagOverride>;
  if (env === false) {
    overrides = new Map();
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
    overrides = parsed.overrides;
  }

  const bootstrap =
    options.bootstrap === undefined
      ? undefined
      : loadBootstrap(options.bootstrap, options.readFile ?? readTextFile);

  let urls: FlagClientSettings['urls'];
  if (options.url !== undefined && options.url !== '') {
    const base = parseBaseUrl(options.url);
    urls = { features: `${base}/api/client/features`, stream: `${base}/api/client/stream` };
  }
  return {
    clock,
    random,
    fetch,
    staleAfterMs,
    pollIntervalMs,
    readyTimeoutMs,
    requestTimeoutMs,
    streamIdleTimeoutMs,
    backoff: options.backoff ?? {},
    streaming: options.streaming ?? true,
    staticContext,
    headers,
    overrides,
    bootstrap,
    urls,
  };
}

/**
 * The base URL of `cutover serve` from the `url` option: query and hash
 * dropped, trailing slashes and a trailing `/api` removed.
 *
 * @throws CutoverError `FLAG_CLIENT_CONFIG_INVALID` (config) when not an http(s) URL.
 */
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
