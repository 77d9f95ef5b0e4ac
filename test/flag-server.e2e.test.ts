import { EventSource } from 'eventsource';
import { InMemStorageProvider, Unleash, UnleashEvents } from 'unleash-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientFeaturesResponse, Flag } from '../src/flags/model.js';
import { startServer, type RunningServer } from '../src/server/start-server.js';
import { ensureControlSchema } from '../src/store/index.js';
import { createTestToken } from './helpers/flag-server.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

function rollout(key: string, percent: number, extra: Partial<Flag> = {}): Flag {
  return {
    key,
    environments: {
      production: {
        enabled: true,
        strategies: [
          {
            name: 'flexibleRollout',
            parameters: { rollout: String(percent), stickiness: 'default', groupId: key },
            constraints: [],
          },
        ],
      },
    },
    ...extra,
  };
}

/** An SSE client on /api/client/stream collecting `features` events. */
function openStream(url: string, token: string) {
  const events: { id: string; data: ClientFeaturesResponse }[] = [];
  const source = new EventSource(`${url}/api/client/stream`, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: { ...init?.headers, authorization: token } }),
  });
  source.addEventListener('features', (event) => {
    const { data, lastEventId } = event as unknown as { data: string; lastEventId: string };
    events.push({ id: lastEventId, data: JSON.parse(data) as ClientFeaturesResponse });
  });
  const rolloutOf = (key: string): string | number | undefined =>
    events.at(-1)?.data.features.find((f) => f.name === key)?.strategies[0]?.parameters?.rollout;
  return { source, events, rolloutOf };
}

describe('cutover serve on a real port', () => {
  let db: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;
  let admin: string;
  let client: string;

  const adminRequest = async (
    server: RunningServer,
    method: string,
    path: string,
    body?: unknown,
  ) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: admin, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await createTestDatabase('e2e');
    await ensureControlSchema(db.pool);
    admin = await createTestToken(db.pool, 'admin');
    client = await createTestToken(db.pool, 'app', 'production');
    a = await startServer({ databaseUrl: db.url, port: 0 });
    b = await startServer({ databaseUrl: db.url, port: 0 });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  it('serves the official unleash-client: fetch with a client token, evaluate, register, metrics, 304s', async () => {
    await adminRequest(a, 'POST', '/api/admin/flags', rollout('all-in', 100));
    await adminRequest(a, 'POST', '/api/admin/flags', rollout('nobody', 0));
    await adminRequest(a, 'POST', '/api/admin/flags', {
      key: 'listed',
      environments: {
        production: {
          enabled: true,
          strategies: [{ name: 'userWithId', parameters: { userIds: 'ann,bob' } }],
        },
      },
    });
    const unleash = new Unleash({
      url: `${a.url}/api/`,
      appName: 'e2e-app',
      instanceId: 'e2e-1',
      customHeaders: { Authorization: client },
      refreshInterval: 100,
      metricsInterval: 60_000,
      storageProvider: new InMemStorageProvider(),
    });
    const errors: unknown[] = [];
    unleash.on(UnleashEvents.Error, (e) => errors.push(e));
    let unchanged = 0;
    unleash.on(UnleashEvents.Unchanged, () => (unchanged += 1));
    const registered = new Promise((resolve) => unleash.once(UnleashEvents.Registered, resolve));
    try {
      await new Promise((resolve) => unleash.once(UnleashEvents.Synchronized, resolve));
      expect(unleash.isEnabled('all-in', { userId: 'u1' })).toBe(true);
      expect(unleash.isEnabled('nobody', { userId: 'u1' })).toBe(false);
      expect(unleash.isEnabled('listed', { userId: 'bob' })).toBe(true);
      expect(unleash.isEnabled('listed', { userId: 'eve' })).toBe(false);
      await registered;
      await expect.poll(() => unchanged).toBeGreaterThan(0);

      await adminRequest(b, 'POST', '/api/admin/flags/all-in/disable', { env: 'production' });
      await expect.poll(() => unleash.isEnabled('all-in', { userId: 'u1' })).toBe(false);

      await unleash.flushMetrics();
      const { rows } = await db.pool.query<{ yes: string; no: string }>(
        `select yes, no from cutover.flag_metrics where flag_key = 'listed' and app_name = 'e2e-app'`,
      );
      expect(rows.map((r) => [Number(r.yes), Number(r.no)])).toEqual([[1, 1]]);
      const apps = await db.pool.query(
        `select 1 from cutover.client_applications where app_name = 'e2e-app' and instance_id = 'e2e-1' and environment = 'production'`,
      );
      expect(apps.rowCount).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      unleash.destroy();
    }
  });

  it('pushes the features on connect and every change over the stream (event features, id = revision)', async () => {
    await adminRequest(a, 'POST', '/api/admin/flags', rollout('streamed', 5));
    const stream = openStream(a.url, client);
    try {
      await expect.poll(() => stream.rolloutOf('streamed')).toBe('5');
      const firstId = Number(stream.events.at(-1)?.id);
      await adminRequest(a, 'POST', '/api/admin/flags/streamed/rollout', { rollout: 25 });
      await expect.poll(() => stream.rolloutOf('streamed')).toBe('25');
      expect(Number(stream.events.at(-1)?.id)).toBeGreaterThan(firstId);
      const features = await fetch(`${a.url}/api/client/features`, {
        headers: { authorization: client },
      });
      expect(features.headers.get('etag')).toContain(`:production:${stream.events.at(-1)?.id}"`);
    } finally {
      stream.source.close();
    }
  });

  it('fans a change made through one server out to the stream and cache of another (LISTEN/NOTIFY)', async () => {
    await adminRequest(a, 'POST', '/api/admin/flags', rollout('fan-out', 1));
    const onB = openStream(b.url, client);
    const onA = openStream(a.url, client);
    try {
      await expect.poll(() => onB.rolloutOf('fan-out')).toBe('1');
      await expect.poll(() => onA.rolloutOf('fan-out')).toBe('1');
      const changed = await adminRequest(a, 'POST', '/api/admin/flags/fan-out/rollout', {
        rollout: 60,
      });
      expect(changed.status).toBe(200);
      await expect.poll(() => onB.rolloutOf('fan-out')).toBe('60');
      await adminRequest(b, 'POST', '/api/admin/flags/fan-out/rollout', { rollout: 70 });
      await expect.poll(() => onA.rolloutOf('fan-out')).toBe('70');
      const viaB = await fetch(`${b.url}/api/client/features`, {
        headers: { authorization: client },
      });
      const body = (await viaB.json()) as ClientFeaturesResponse;
      expect(
        body.features.find((f) => f.name === 'fan-out')?.strategies[0]?.parameters?.rollout,
      ).toBe('70');
    } finally {
      onA.source.close();
      onB.source.close();
    }
  });

  it('refuses the stream without a valid client token', async () => {
    const none = await fetch(`${a.url}/api/client/stream`);
    expect(none.status).toBe(401);
    const adminOnStream = await fetch(`${a.url}/api/client/stream`, {
      headers: { authorization: admin },
    });
    expect(adminOnStream.status).toBe(403);
  });

  it('shuts down gracefully with streams open', async () => {
    const c = await startServer({ databaseUrl: db.url, port: 0 });
    const stream = openStream(c.url, client);
    await expect.poll(() => stream.events.length).toBeGreaterThan(0);
    await c.close();
    stream.source.close();
    await expect(fetch(`${c.url}/health`)).rejects.toThrow();
  });
});
