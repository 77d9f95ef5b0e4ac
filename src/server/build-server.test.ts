import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleFlag } from '../../test/helpers/flag-fixtures.js';
import { createTestToken } from '../../test/helpers/flag-server.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import type { ClientFeaturesResponse, Flag } from '../flags/model.js';
import { createFlagStore, environmentRevision } from '../flags/flag-store.js';
import { ensureControlSchema } from '../store/index.js';
import { buildServer } from './build-server.js';
import { createTokenStore } from './token-store.js';

interface ErrorResponse {
  error: { code: string; message: string; details: Record<string, unknown> };
}

describe('cutover serve (in-process)', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let admin: string;
  let production: string;
  let staging: string;

  beforeAll(async () => {
    db = await createTestDatabase('serve');
    await ensureControlSchema(db.pool);
    admin = await createTestToken(db.pool, 'ops-admin');
    production = await createTestToken(db.pool, 'web-prod', 'production');
    staging = await createTestToken(db.pool, 'web-staging', 'staging');
    app = await buildServer({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  const asAdmin = (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
  ) =>
    app.inject({
      method,
      url,
      headers: { authorization: admin },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  it('creates a flag through the admin API and serves it to a client token of its environment', async () => {
    const created = await asAdmin('POST', '/api/admin/flags', sampleFlag('served'));
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ key: 'served', version: 1, changed: true });
    await expect
      .poll(async () => {
        const res = await app.inject({
          url: '/api/client/features',
          headers: { authorization: production },
        });
        return (res.json<ClientFeaturesResponse>().features ?? []).map((f) => f.name);
      })
      .toContain('served');
    const res = await app.inject({
      url: '/api/client/features',
      headers: { authorization: staging },
    });
    const feature = res.json<ClientFeaturesResponse>().features.find((f) => f.name === 'served');
    expect(feature?.strategies[0]?.name).toBe('default');
  });

  it('answers 304 to a matching If-None-Match and 200 with a new ETag after a change', async () => {
    await asAdmin('POST', '/api/admin/flags', sampleFlag('etag'));
    await expect
      .poll(async () => {
        const r = await app.inject({
          url: '/api/client/features',
          headers: { authorization: production },
        });
        return r.json<ClientFeaturesResponse>().features.some((f) => f.name === 'etag');
      })
      .toBe(true);
    const first = await app.inject({
      url: '/api/client/features',
      headers: { authorization: production },
    });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    const again = await app.inject({
      url: '/api/client/features',
      headers: { authorization: production, 'if-none-match': etag },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    await asAdmin('POST', '/api/admin/flags/etag/rollout', { rollout: 40, env: 'production' });
    await expect
      .poll(async () => {
        const r = await app.inject({
          url: '/api/client/features',
          headers: { authorization: production, 'if-none-match': etag },
        });
        return r.statusCode;
      })
      .toBe(200);
    const changed = await app.inject({
      url: '/api/client/features',
      headers: { authorization: production },
    });
    expect(changed.headers.etag).not.toBe(etag);
    const strategy = changed.json<ClientFeaturesResponse>().features.find((f) => f.name === 'etag')
      ?.strategies[0];
    expect(strategy?.parameters?.rollout).toBe('40');
  });

  it('filters features by name prefix and tag (Unleash query parameters), with their own ETag', async () => {
    await asAdmin('POST', '/api/admin/flags', sampleFlag('filter-ui-a', { tags: { area: 'ui' } }));
    await asAdmin(
      'POST',
      '/api/admin/flags',
      sampleFlag('filter-api-b', { tags: { area: 'api' } }),
    );
    const names = async (query: string) => {
      const res = await app.inject({
        url: `/api/client/features${query}`,
        headers: { authorization: production },
      });
      return {
        etag: res.headers.etag,
        names: res
          .json<ClientFeaturesResponse>()
          .features.map((f) => f.name)
          .filter((n) => n.startsWith('filter-')),
      };
    };
    await expect.poll(async () => (await names('')).names).toEqual(['filter-api-b', 'filter-ui-a']);
    const prefix = await names('?namePrefix=filter-ui');
    expect(prefix.names).toEqual(['filter-ui-a']);
    expect((await names('?tag=area:api')).names).toEqual(['filter-api-b']);
    expect((await names('?tag=area:api&tag=area:ui')).names).toEqual([
      'filter-api-b',
      'filter-ui-a',
    ]);
    expect(prefix.etag).not.toBe((await names('')).etag);
  });

  it('accepts the README example body and a reason in the X-Cutover-Reason header', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: { authorization: admin, 'x-cutover-reason': 'launch %E2%9C%93' },
      payload: {
        key: 'readme-example',
        description: 'dashboard v2',
        tags: { category: 'migration' },
        environments: {
          production: {
            enabled: true,
            strategies: [
              { name: 'flexibleRollout', parameters: { rollout: '5', stickiness: 'userId' } },
            ],
          },
        },
      },
    });
    expect(res.statusCode).toBe(201);
    const history = await asAdmin('GET', '/api/admin/flags/readme-example/history');
    expect(history.json<{ versions: { reason: string }[] }>().versions[0]?.reason).toBe('launch ✓');
  });

  it('keeps the ETag of an environment that a change did not touch', async () => {
    // Wait until the server's cache has caught up with earlier tests' changes.
    const store = createFlagStore(db.pool);
    let before = await app.inject({
      url: '/api/client/features',
      headers: { authorization: staging },
    });
    await expect
      .poll(async () => {
        before = await app.inject({
          url: '/api/client/features',
          headers: { authorization: staging },
        });
        const revision = environmentRevision(await store.snapshot(), 'staging');
        return String(before.headers.etag).endsWith(`:staging:${revision}"`);
      })
      .toBe(true);
    await asAdmin('POST', '/api/admin/flags/etag/rollout', { rollout: 45, env: 'production' });
    const after = await app.inject({
      url: '/api/client/features',
      headers: { authorization: staging, 'if-none-match': before.headers.etag as string },
    });
    expect(after.statusCode).toBe(304);
  });

  it('rejects a request without a token (401), with an unknown token (401) and with a token of the wrong kind (403)', async () => {
    const cases: [string, Record<string, string>, number, string][] = [
      ['/api/client/features', {}, 401, 'TOKEN_MISSING'],
      ['/api/client/features', { authorization: '*:production.nope' }, 401, 'TOKEN_UNKNOWN'],
      ['/api/admin/flags', {}, 401, 'TOKEN_MISSING'],
      ['/api/admin/flags', { authorization: `Bearer ${production}x` }, 401, 'TOKEN_UNKNOWN'],
      ['/api/admin/flags', { authorization: production }, 403, 'TOKEN_FORBIDDEN'],
      ['/api/admin/flags', { authorization: `Bearer ${production}` }, 403, 'TOKEN_FORBIDDEN'],
      ['/api/client/features', { authorization: admin }, 403, 'TOKEN_FORBIDDEN'],
    ];
    for (const [url, headers, status, code] of cases) {
      const res = await app.inject({ url, headers });
      expect([url, res.statusCode]).toEqual([url, status]);
      expect(res.json<ErrorResponse>().error.code).toBe(code);
    }
    const write = await app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: { authorization: production },
      payload: sampleFlag('sneaky'),
    });
    expect(write.statusCode).toBe(403);
  });

  it('rejects an invalid flag definition with 400 and the JSON path of each problem', async () => {
    const res = await asAdmin('POST', '/api/admin/flags', {
      key: 'broken',
      environments: { production: { enabled: 'yes', strategies: [{ parameters: {} }] } },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorResponse>();
    expect(body.error.code).toBe('FLAG_INVALID');
    const paths = (body.error.details.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '$.environments.production.enabled',
        '$.environments.production.strategies[0].name',
      ]),
    );
    const get = await asAdmin('GET', '/api/admin/flags/broken');
    expect(get.statusCode).toBe(404);
  });

  it('rejects a bad action body with 400 and the path (rollout out of range, unknown field, bad JSON)', async () => {
    await asAdmin('POST', '/api/admin/flags', sampleFlag('bodies'));
    const rollout = await asAdmin('POST', '/api/admin/flags/bodies/rollout', { rollout: 150 });
    expect(rollout.statusCode).toBe(400);
    expect(rollout.json<ErrorResponse>().error.details.issues).toEqual([
      expect.objectContaining({ path: '$.rollout' }),
    ]);
    const unknown = await asAdmin('POST', '/api/admin/flags/bodies/enable', { envv: 'production' });
    expect(unknown.statusCode).toBe(400);
    const env = await asAdmin('POST', '/api/admin/flags/bodies/enable', { env: 'no good' });
    expect(env.json<ErrorResponse>().error.code).toBe('FLAG_ENVIRONMENT_INVALID');
    const json = await app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: { authorization: admin, 'content-type': 'application/json' },
      payload: '{"key":',
    });
    expect(json.statusCode).toBe(400);
    expect(json.json<ErrorResponse>().error.code).toBe('REQUEST_INVALID');
  });

  it('answers 404 for an unknown flag on every flag route, and 409 for a duplicate', async () => {
    const routes: ['GET' | 'POST' | 'PUT' | 'DELETE', string, unknown?][] = [
      ['GET', '/api/admin/flags/ghost'],
      ['PUT', '/api/admin/flags/ghost', sampleFlag('ghost')],
      ['DELETE', '/api/admin/flags/ghost'],
      ['POST', '/api/admin/flags/ghost/rollout', { rollout: 5 }],
      ['POST', '/api/admin/flags/ghost/enable', {}],
      ['POST', '/api/admin/flags/ghost/disable', {}],
      ['GET', '/api/admin/flags/ghost/history'],
      ['POST', '/api/admin/flags/ghost/restore', { version: 3 }],
    ];
    for (const [method, url, payload] of routes) {
      const res = await asAdmin(method, url, payload);
      expect([method, url, res.statusCode]).toEqual([method, url, 404]);
    }
    await asAdmin('POST', '/api/admin/flags', sampleFlag('dup'));
    expect((await asAdmin('POST', '/api/admin/flags', sampleFlag('dup'))).statusCode).toBe(409);
    expect((await app.inject({ url: '/api/nothing-here' })).statusCode).toBe(404);
  });

  it('enables, disables, updates, deletes and lists flags; records the token name as actor', async () => {
    await asAdmin('POST', '/api/admin/flags', sampleFlag('crud', { tags: { category: 'ui' } }));
    const off = await asAdmin('POST', '/api/admin/flags/crud/disable', {
      env: 'production',
      reason: 'incident 42',
    });
    expect(off.json<{ flag: Flag }>().flag.environments.production?.enabled).toBe(false);
    const on = await asAdmin('POST', '/api/admin/flags/crud/enable');
    expect(on.statusCode).toBe(200);
    const updated = await asAdmin('PUT', '/api/admin/flags/crud', {
      ...sampleFlag('crud'),
      description: 'new',
    });
    expect(updated.json<{ flag: Flag }>().flag.description).toBe('new');
    const mismatch = await asAdmin('PUT', '/api/admin/flags/crud', sampleFlag('other'));
    expect(mismatch.json<ErrorResponse>().error.code).toBe('FLAG_KEY_MISMATCH');
    const list = await asAdmin('GET', '/api/admin/flags?tag=category=migration');
    expect(list.json<{ flags: { flag: Flag }[] }>().flags.map((r) => r.flag.key)).toContain('crud');
    const history = await asAdmin('GET', '/api/admin/flags/crud/history');
    const versions = history.json<{
      versions: { actor: string; reason: string | null; action: string }[];
    }>().versions;
    expect(versions.map((v) => v.action)).toEqual(['update', 'enable', 'disable', 'create']);
    expect(versions[2]).toMatchObject({ actor: 'ops-admin', reason: 'incident 42' });
    const events = await asAdmin('GET', '/api/admin/events?key=crud');
    expect(
      events.json<{ events: { actor: string }[] }>().events.every((e) => e.actor === 'ops-admin'),
    ).toBe(true);
    const deleted = await asAdmin('DELETE', '/api/admin/flags/crud');
    expect(deleted.json()).toMatchObject({ flag: null, version: 0, changed: true });
    expect((await asAdmin('GET', '/api/admin/flags/crud')).statusCode).toBe(404);
  });

  it('restores a previous version exactly', async () => {
    const created = await asAdmin('POST', '/api/admin/flags', sampleFlag('restorable'));
    const original = created.json<{ flag: Flag }>().flag;
    const rollout = await asAdmin('POST', '/api/admin/flags/restorable/rollout', { rollout: 90 });
    const previous = rollout.json<{ previousVersion: number }>().previousVersion;
    const restored = await asAdmin('POST', '/api/admin/flags/restorable/restore', {
      version: previous,
    });
    expect(restored.json()).toMatchObject({ action: 'restore', flag: original });
    const version = await asAdmin('GET', `/api/admin/flags/restorable/versions/${previous}`);
    expect(version.json<{ flag: Flag }>().flag).toEqual(original);
  });

  it('patches rollout and users in one change (PATCH), idempotent with an Idempotency-Key', async () => {
    await asAdmin('POST', '/api/admin/flags', sampleFlag('patch-me'));
    const patch = () =>
      app.inject({
        method: 'PATCH',
        url: '/api/admin/flags/patch-me',
        headers: { authorization: admin, 'idempotency-key': 'op-1' },
        payload: { rollout: 30, users: ['ann'], env: 'production' },
      });
    const first = await patch();
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      action: 'patch',
      changed: true,
      version: 2,
      previousVersion: 1,
    });
    await asAdmin('POST', '/api/admin/flags/patch-me/rollout', { rollout: 50, env: 'production' });
    expect((await patch()).json()).toMatchObject({
      changed: false,
      version: 2,
      previousVersion: 1,
    });
    const bad = await asAdmin('PATCH', '/api/admin/flags/patch-me', { rollout: 'x' });
    expect(bad.statusCode).toBe(400);
  });

  it('disables every flag with a tag in one call', async () => {
    await asAdmin('POST', '/api/admin/flags', sampleFlag('mig-1', { tags: { category: 'risky' } }));
    await asAdmin('POST', '/api/admin/flags', sampleFlag('mig-2', { tags: { category: 'risky' } }));
    await asAdmin('POST', '/api/admin/flags', sampleFlag('safe-1', { tags: { category: 'calm' } }));
    const res = await asAdmin('POST', '/api/admin/disable-by-tag', {
      tag: 'category=risky',
      reason: 'rollback',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ changes: { key: string }[] }>().changes.map((c) => c.key)).toEqual([
      'mig-1',
      'mig-2',
    ]);
    for (const key of ['mig-1', 'mig-2', 'safe-1']) {
      const { flag: f } = (await asAdmin('GET', `/api/admin/flags/${key}`)).json<{ flag: Flag }>();
      expect([key, Object.values(f.environments).some((e) => e.enabled)]).toEqual([
        key,
        key === 'safe-1',
      ]);
    }
  });

  it('exports and imports flags as JSON (round trip)', async () => {
    const exported = (await asAdmin('GET', '/api/admin/export')).json<{ flags: Flag[] }>();
    expect(exported.flags.length).toBeGreaterThan(3);
    const other = await createTestDatabase('serveimport');
    try {
      await ensureControlSchema(other.pool);
      const otherAdmin = (
        await createTokenStore(other.pool).create({ name: 'a', type: 'admin' }, { actor: 't' })
      ).token;
      const second = await buildServer({ databaseUrl: other.url });
      try {
        const imported = await second.inject({
          method: 'POST',
          url: '/api/admin/import',
          headers: { authorization: otherAdmin },
          payload: exported,
        });
        expect(imported.statusCode).toBe(200);
        const back = await second.inject({
          url: '/api/admin/export',
          headers: { authorization: otherAdmin },
        });
        expect(back.json<{ flags: Flag[] }>().flags).toEqual(exported.flags);
        const bad = await second.inject({
          method: 'POST',
          url: '/api/admin/import',
          headers: { authorization: otherAdmin },
          payload: { flags: [{ key: 'x' }] },
        });
        expect(bad.statusCode).toBe(400);
        expect(bad.json<ErrorResponse>().error.details.issues).toEqual(
          expect.arrayContaining([expect.objectContaining({ path: '$.flags[0].environments' })]),
        );
      } finally {
        await second.close();
      }
    } finally {
      await other.drop();
    }
  });

  it('stores tokens only as sha256 hashes', async () => {
    const { rows } = await db.pool.query<{ row: string }>(
      'select t::text as row from cutover.tokens t',
    );
    const secret = admin.split('.')[1] ?? '';
    expect(secret).toHaveLength(64);
    for (const { row } of rows) expect(row).not.toContain(secret);
    const { rows: hashes } = await db.pool.query<{ n: number }>(
      `select count(*)::int as n from cutover.tokens where hash = sha256(convert_to($1, 'UTF8'))`,
      [admin],
    );
    expect(hashes[0]?.n).toBe(1);
  });

  it('stops accepting a revoked token', async () => {
    const tokens = createTokenStore(db.pool);
    const { token } = await tokens.create(
      { name: 'short-lived', type: 'client', environment: 'production' },
      { actor: 't' },
    );
    const ok = await app.inject({ url: '/api/client/features', headers: { authorization: token } });
    expect(ok.statusCode).toBe(200);
    await tokens.revoke('short-lived', { actor: 't' });
    await expect
      .poll(
        async () =>
          (await app.inject({ url: '/api/client/features', headers: { authorization: token } }))
            .statusCode,
      )
      .toBe(401);
  });

  it('stores registrations and metric counts sent by clients', async () => {
    const register = await app.inject({
      method: 'POST',
      url: '/api/client/register',
      headers: { authorization: production },
      payload: {
        appName: 'web',
        instanceId: 'i-1',
        sdkVersion: 'x:1',
        strategies: ['default'],
        started: new Date().toISOString(),
        interval: 1000,
      },
    });
    expect(register.statusCode).toBe(202);
    const bucket = {
      start: new Date().toISOString(),
      stop: new Date().toISOString(),
      toggles: { served: { yes: 3, no: 1, variants: { a: 2 } } },
    };
    for (let i = 0; i < 2; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/client/metrics',
        headers: { authorization: production },
        payload: { appName: 'web', instanceId: 'i-1', bucket },
      });
      expect(res.statusCode).toBe(202);
    }
    const metrics = await asAdmin('GET', '/api/admin/metrics?key=served');
    expect(metrics.json<{ metrics: unknown[] }>().metrics).toEqual([
      expect.objectContaining({
        flagKey: 'served',
        environment: 'production',
        appName: 'web',
        yes: 6,
        no: 2,
        variants: { a: 4 },
      }),
    ]);
    const apps = await asAdmin('GET', '/api/admin/applications');
    expect(apps.json<{ applications: unknown[] }>().applications).toEqual([
      expect.objectContaining({ appName: 'web', instanceId: 'i-1', environment: 'production' }),
    ]);
    const bad = await app.inject({
      method: 'POST',
      url: '/api/client/metrics',
      headers: { authorization: production },
      payload: {
        appName: 'web',
        bucket: { start: 'x', stop: 'y', toggles: { f: { yes: -1, no: 0 } } },
      },
    });
    expect(bad.statusCode).toBe(400);
  });
});
