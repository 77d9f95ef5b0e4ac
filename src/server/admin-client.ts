import { CutoverError, type ErrorCategory } from '../errors/index.js';
import { patchFields, type TagFilter } from '../flags/flag-mutations.js';
import type {
  ChangeMeta,
  EnvironmentChangeMeta,
  FlagAdmin,
  FlagChange,
  FlagExport,
  FlagRecord,
  FlagVersion,
  ImportOptions,
  ListFilter,
  SegmentChange,
} from '../flags/flag-store-types.js';
import type { Segment } from '../flags/model.js';

/** Options of {@link createFlagAdminClient}. */
export interface FlagAdminClientOptions {
  /** Base URL of a `cutover serve`, e.g. `http://127.0.0.1:4242`. */
  url: string;
  /** An admin token. Its name is the actor of every change (`meta.actor` is ignored). */
  token: string;
  /** Request timeout in ms. Default 30 000. */
  timeoutMs?: number;
  /** fetch implementation. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

const CATEGORIES = new Set<ErrorCategory>([
  'usage',
  'config',
  'validation',
  'busy',
  'unavailable',
  'not_found',
  'refused',
  'unauthorized',
  'forbidden',
  'failed',
]);

/**
 * {@link FlagAdmin} over the admin API of a `cutover serve` (what
 * `cutover flags … --server URL --token T` uses). Error responses come back
 * as the server's CutoverError (same code, category, message, details);
 * dates are revived as `Date`s.
 *
 * @throws CutoverError `SERVER_UNREACHABLE` (unavailable) when the server
 *   cannot be reached or times out, `SERVER_RESPONSE_INVALID` (failed) when
 *   it answers something that is not cutover's JSON.
 */
export function createFlagAdminClient(options: FlagAdminClientOptions): FlagAdmin {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;

  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    meta?: { reason?: string | undefined; operationId?: string | undefined },
  ): Promise<T> {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: {
          authorization: options.token,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(meta?.reason === undefined ? {} : { 'x-cutover-reason': encodeHeader(meta.reason) }),
          ...(meta?.operationId === undefined
            ? {}
            : { 'idempotency-key': encodeHeader(meta.operationId) }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new CutoverError(
        'SERVER_UNREACHABLE',
        'unavailable',
        `Cannot reach the cutover server at ${base}: ${error instanceof Error ? error.message : String(error)}.`,
        {
          location: base,
          hint: 'Check --server (or CUTOVER_SERVER) and that `cutover serve` runs there.',
          cause: error,
        },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text, reviveDates);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) throw toError(response.status, parsed, base, path);
    if (parsed === undefined) {
      throw new CutoverError(
        'SERVER_RESPONSE_INVALID',
        'failed',
        `The server at ${base} answered ${method} ${path} with something that is not JSON.`,
        { location: `${base}${path}`, hint: 'Check that --server points at a cutover server.' },
      );
    }
    return parsed as T;
  }

  const enc = encodeURIComponent;
  return {
    async list(filter: ListFilter = {}) {
      const query =
        filter.tag === undefined ? '' : `?tag=${enc(`${filter.tag.name}=${filter.tag.value}`)}`;
      return (await call<{ flags: FlagRecord[] }>('GET', `/api/admin/flags${query}`)).flags;
    },
    get: (key) => call<FlagRecord>('GET', `/api/admin/flags/${enc(key)}`),
    create: (input, meta) => call<FlagChange>('POST', '/api/admin/flags', input, meta),
    update: (key, input, meta) =>
      call<FlagChange>('PUT', `/api/admin/flags/${enc(key)}`, input, meta),
    delete: (key, meta) =>
      call<FlagChange>('DELETE', `/api/admin/flags/${enc(key)}`, undefined, meta),
    setRollout: (key, percent, meta: EnvironmentChangeMeta) =>
      call<FlagChange>('POST', `/api/admin/flags/${enc(key)}/rollout`, {
        rollout: percent,
        ...envAndReason(meta),
      }),
    patch: (key, patch, meta: EnvironmentChangeMeta) =>
      call<FlagChange>('PATCH', `/api/admin/flags/${enc(key)}`, {
        ...patchFields(patch),
        ...envAndReason(meta),
      }),
    enable: (key, meta) =>
      call<FlagChange>('POST', `/api/admin/flags/${enc(key)}/enable`, envAndReason(meta)),
    disable: (key, meta) =>
      call<FlagChange>('POST', `/api/admin/flags/${enc(key)}/disable`, envAndReason(meta)),
    async disableByTag(tag: TagFilter, meta) {
      const body = { tag, ...envAndReason(meta) };
      return (await call<{ changes: FlagChange[] }>('POST', '/api/admin/disable-by-tag', body))
        .changes;
    },
    async history(key, historyOptions = {}) {
      const query = historyOptions.limit === undefined ? '' : `?limit=${historyOptions.limit}`;
      return (
        await call<{ versions: FlagVersion[] }>(
          'GET',
          `/api/admin/flags/${enc(key)}/history${query}`,
        )
      ).versions;
    },
    restoreVersion: (key, version, meta: ChangeMeta) =>
      call<FlagChange>('POST', `/api/admin/flags/${enc(key)}/restore`, {
        version,
        ...(meta.reason === undefined ? {} : { reason: meta.reason }),
        ...(meta.operationId === undefined ? {} : { operationId: meta.operationId }),
      }),
    export: () => call<FlagExport>('GET', '/api/admin/export'),
    async import(document, importOptions: ImportOptions) {
      const query = new URLSearchParams();
      if (importOptions.mode !== undefined) query.set('mode', importOptions.mode);
      if (importOptions.reason !== undefined) query.set('reason', importOptions.reason);
      const suffix = query.size === 0 ? '' : `?${query.toString()}`;
      return (
        await call<{ changes: FlagChange[] }>('POST', `/api/admin/import${suffix}`, document, {
          operationId: importOptions.operationId,
        })
      ).changes;
    },
    async listSegments() {
      return (await call<{ segments: Segment[] }>('GET', '/api/admin/segments')).segments;
    },
    putSegment(input, meta) {
      const id = (input as { id?: unknown } | null)?.id;
      return call<SegmentChange>('PUT', `/api/admin/segments/${enc(String(id))}`, input, meta);
    },
    deleteSegment: (id, meta) =>
      call<SegmentChange>('DELETE', `/api/admin/segments/${id}`, undefined, meta),
  };
}

function envAndReason(meta: EnvironmentChangeMeta): {
  env?: string;
  reason?: string;
  operationId?: string;
} {
  return {
    ...(meta.env === undefined ? {} : { env: meta.env }),
    ...(meta.reason === undefined ? {} : { reason: meta.reason }),
    ...(meta.operationId === undefined ? {} : { operationId: meta.operationId }),
  };
}

/** HTTP header values must be Latin-1: keep ASCII, percent-encode the rest. */
function encodeHeader(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

const DATE_KEYS = new Set([
  'createdAt',
  'updatedAt',
  'at',
  'revokedAt',
  'periodStart',
  'firstSeen',
  'lastSeen',
]);

function reviveDates(key: string, value: unknown): unknown {
  return DATE_KEYS.has(key) && typeof value === 'string' ? new Date(value) : value;
}

function toError(status: number, body: unknown, base: string, path: string): CutoverError {
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  if (error !== undefined && typeof error.code === 'string' && typeof error.message === 'string') {
    const category = CATEGORIES.has(error.category as ErrorCategory)
      ? (error.category as ErrorCategory)
      : status === 401
        ? 'unauthorized'
        : status === 403
          ? 'forbidden'
          : status === 404
            ? 'not_found'
            : status < 500
              ? 'config'
              : 'failed';
    return new CutoverError(error.code, category, error.message, {
      ...(typeof error.location === 'string' ? { location: error.location } : {}),
      ...(typeof error.hint === 'string' ? { hint: error.hint } : {}),
      ...(typeof error.details === 'object' && error.details !== null
        ? { details: error.details as Record<string, unknown> }
        : {}),
    });
  }
  return new CutoverError(
    'SERVER_RESPONSE_INVALID',
    status >= 500 ? 'unavailable' : 'failed',
    `The server at ${base} answered ${path} with HTTP ${status}.`,
    { location: `${base}${path}`, hint: 'Check that --server points at a cutover server.' },
  );
}
