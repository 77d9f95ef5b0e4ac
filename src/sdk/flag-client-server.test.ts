import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFlagServer, rolloutFlag } from '../../test/helpers/flag-server.js';
import type { FlagServer } from '../../test/helpers/flag-server.js';
import { createTestDatabase } from '../../test/helpers/test-database.js';
import type { TestDatabase } from '../../test/helpers/test-database.js';
import { createFlagStore } from '../flags/flag-store.js';
import { createFlagClient } from './flag-client.js';
import type { FlagChangeEvent, FlagClient, FlagClientOptions } from './flag-client.js';

let db: TestDatabase;
let server: FlagServer;
const clients: FlagClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase('sdk');
  server = await startFlagServer(db.url);
  await server.admin('POST', '/api/admin/flags', rolloutFlag('everyone', 100));
  await server.admin('POST', '/api/admin/flags', rolloutFlag('nobody', 0));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.stop();
  await db.drop();
});

function client(options: FlagClientOptions = {}): FlagClient {
  const c = createFlagClient({
    url: server.url,
    token: server.clientToken,
    environment: 'production',
    env: false,
    backoff: { initialMs: 50, maxMs: 400 },
    ...options,
  });
  clients.push(c);
  return c;
}

/** Resolves with the first `change` event that names `key`. */
function nextChange(c: FlagClient, key: string): Promise<FlagChangeEvent> {
  return new Promise((resolve) => {
    const off = c.on('change', (event) => {
      if (!event.changed.includes(key)) return;
      off();
      resolve(event);
    });
  });
}

/** An HTTP proxy to the flag server that answers 503 on the stream endpoint (as some proxies do). */
async function startProxyWithoutStream(
  target: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const proxy: Server = createServer((req, res) => {
    if (req.url?.startsWith('/api/client/stream') === true) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('streaming not supported here');
      return;
    }
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}

describe('flag client against cutover serve', () => {
  it('loads the flags of its token environment over the stream and evaluates them locally', async () => {
    const c = client();
    await c.ready();
    expect(c.isEnabled('everyone', { userId: 'u1' })).toBe(true);
    expect(c.isEnabled('nobody', { userId: 'u1' })).toBe(false);
    expect(c.evaluate('missing')).toMatchObject({ reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(c.status()).toMatchObject({ state: 'streaming', ready: true, source: 'stream' });
    expect(c.status().revision).toMatch(/^\d+$/);
    expect(c.staleness()).toBeLessThan(60_000);
  });

  it('receives a change pushed over the stream and emits change', async () => {
    await server.admin('POST', '/api/admin/flags', rolloutFlag('pushed', 100));
    const c = client();
    await c.ready();
    await expect.poll(() => c.isEnabled('pushed', { userId: 'u1' })).toBe(true);
    const changed = nextChange(c, 'pushed');
    await server.admin('POST', '/api/admin/flags/pushed/disable', { env: 'production' });
    const event = await changed;
    expect(event).toMatchObject({ changed: ['pushed'], source: 'stream' });
    expect(c.isEnabled('pushed', { userId: 'u1' })).toBe(false);
    expect(c.evaluate('pushed').reason).toBe('DISABLED');
    expect(c.status().revision).toBe(event.revision);
    expect(c.status().stats.polls).toBe(0);
  });

  it('reconnects with backoff after the server restarts, and sees changes made meanwhile', async () => {
    await server.admin('POST', '/api/admin/flags', rolloutFlag('restart', 100));
    const c = client();
    await c.ready();
    await expect.poll(() => c.isEnabled('restart', { userId: 'u1' })).toBe(true);
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    await server.stop();
    await expect.poll(() => c.status().state).toBe('polling');
    // Changed in the database while no server runs (as the CLI would): the client learns it on reconnect.
    await createFlagStore(db.pool).setRollout('restart', 0, { actor: 'test', env: 'production' });
    expect(c.isEnabled('restart', { userId: 'u1' })).toBe(true);
    const changed = nextChange(c, 'restart');
    await server.start();
    expect(await changed).toMatchObject({ source: 'stream' });
    expect(c.isEnabled('restart', { userId: 'u1' })).toBe(false);
    expect(c.status().state).toBe('streaming');
    expect(errors).toContain('FLAG_STREAM_FAILED');
    expect(c.status().stats.streamConnects).toBe(2);
    // And pushes work on the new connection.
    const again = nextChange(c, 'restart');
    await server.admin('POST', '/api/admin/flags/restart/rollout', {
      rollout: 100,
      env: 'production',
    });
    await again;
    expect(c.isEnabled('restart', { userId: 'u1' })).toBe(true);
  });

  it('falls back to ETag polling (304 Not Modified) when the stream endpoint is unavailable', async () => {
    const proxy = await startProxyWithoutStream(server.url);
    try {
      await server.admin('POST', '/api/admin/flags', rolloutFlag('polled', 100));
      const statuses: number[] = [];
      const c = client({
        url: proxy.url,
        pollIntervalMs: 50,
        backoff: { initialMs: 5_000, maxMs: 5_000 },
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          if (response.url.endsWith('/api/client/features')) statuses.push(response.status);
          return response;
        },
      });
      await c.ready();
      expect(c.status().state).toBe('polling');
      expect(c.isEnabled('polled', { userId: 'u1' })).toBe(true);
      await expect.poll(() => c.status().stats.notModified).toBeGreaterThanOrEqual(2);
      expect(statuses[0]).toBe(200);
      expect(statuses).toContain(304);
      const changed = nextChange(c, 'polled');
      await server.admin('POST', '/api/admin/flags/polled/disable', { env: 'production' });
      expect(await changed).toMatchObject({ source: 'poll' });
      expect(c.isEnabled('polled', { userId: 'u1' })).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('reports staleness with an injected clock and marks evaluations STALE, then fresh again on the next push', async () => {
    await server.admin('POST', '/api/admin/flags', rolloutFlag('aging', 100));
    let now = Date.parse('2030-01-01T00:00:00Z');
    const c = client({ clock: () => now, staleAfterMs: 30_000 });
    await c.ready();
    await expect.poll(() => c.isEnabled('aging', { userId: 'u1' })).toBe(true);
    const events: string[] = [];
    c.on('stale', () => events.push('stale'));
    c.on('fresh', () => events.push('fresh'));
    expect(c.staleness()).toBe(0);
    expect(c.evaluate('aging', { userId: 'u1' }).reason).not.toBe('STALE');
    now += 31_000; // no byte arrives on the stream meanwhile (heartbeat every 15 s of real time)
    expect(c.staleness()).toBe(31_000);
    expect(c.evaluate('aging', { userId: 'u1' })).toMatchObject({ enabled: true, reason: 'STALE' });
    expect(events).toEqual(['stale']);
    const changed = nextChange(c, 'aging');
    await server.admin('POST', '/api/admin/flags/aging/rollout', { rollout: 0, env: 'production' });
    await changed;
    expect(c.staleness()).toBe(0);
    expect(c.evaluate('aging', { userId: 'u1' }).reason).not.toBe('STALE');
    expect(events).toEqual(['stale', 'fresh']);
  });

  it('lets CUTOVER_FLAG_* variables override the server, whatever the server pushes', async () => {
    await server.admin('POST', '/api/admin/flags', rolloutFlag('overridden', 100));
    const c = client({
      env: {
        CUTOVER_FLAG_OVERRIDDEN: 'false',
        CUTOVER_FLAG_NOBODY_USERS: 'vip',
        CUTOVER_FLAG_LOCAL_ONLY: 'true',
      },
    });
    await c.ready();
    await expect.poll(() => c.features()?.features.some((f) => f.name === 'overridden')).toBe(true);
    expect(c.isEnabled('overridden', { userId: 'u1' })).toBe(false);
    expect(c.isEnabled('nobody', { userId: 'vip' })).toBe(true);
    expect(c.isEnabled('nobody', { userId: 'u1' })).toBe(false);
    expect(c.isEnabled('local-only')).toBe(true);
    await server.admin('POST', '/api/admin/flags/overridden/rollout', {
      rollout: 100,
      env: 'production',
    });
    await server.admin('POST', '/api/admin/flags/overridden/enable', { env: 'production' });
    expect(c.isEnabled('overridden', { userId: 'u1' })).toBe(false);
  });

  it('treats a stream that sends nothing for streamIdleTimeoutMs as dead and reconnects', async () => {
    // The server's heartbeat comes every 15 s, far beyond the 300 ms allowed here.
    const c = client({ streamIdleTimeoutMs: 300 });
    const messages: string[] = [];
    c.on('error', (e) => messages.push(e.message));
    await c.ready();
    await expect.poll(() => c.status().stats.streamConnects).toBeGreaterThanOrEqual(2);
    expect(messages.some((m) => m.includes('no data or heartbeat for 300 ms'))).toBe(true);
    expect(c.isEnabled('everyone', { userId: 'u1' })).toBe(true);
  });

  it('reports an unauthorized token as an error and never becomes ready', async () => {
    const c = client({ token: 'not-a-token', readyTimeoutMs: 1_000 });
    const errors: { code: string; category: string }[] = [];
    c.on('error', (e) => errors.push({ code: e.code, category: e.category }));
    await expect(c.ready()).rejects.toMatchObject({ code: 'FLAG_CLIENT_NOT_READY' });
    expect(errors).toContainEqual({ code: 'FLAG_STREAM_FAILED', category: 'unauthorized' });
    expect(errors).toContainEqual({ code: 'FLAG_POLL_FAILED', category: 'unauthorized' });
  });
});
