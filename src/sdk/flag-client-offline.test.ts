import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/helpers/free-port.js';
import type { ClientFeaturesResponse } from '../flags/model.js';
import { createFlagClient } from './flag-client.js';
import type { FlagClientEvents } from './flag-client.js';

const FLAGS: ClientFeaturesResponse = {
  version: 2,
  features: [
    { name: 'on-for-all', enabled: true, strategies: [{ name: 'default' }] },
    { name: 'killed', enabled: false, strategies: [{ name: 'default' }] },
    {
      name: 'beta-users',
      enabled: true,
      strategies: [{ name: 'userWithId', parameters: { userIds: 'alice,bob' } }],
    },
    {
      name: 'themed',
      enabled: true,
      strategies: [{ name: 'default' }],
      variants: [
        {
          name: 'dark',
          weight: 1000,
          stickiness: 'default',
          payload: { type: 'string', value: 'night' },
        },
      ],
    },
  ],
};

const dir = mkdtempSync(join(tmpdir(), 'cutover-sdk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('flag client without a server', () => {
  it('evaluates a bootstrap object offline, at once and after ready()', async () => {
    const client = createFlagClient({ bootstrap: FLAGS, env: false });
    expect(client.isEnabled('on-for-all')).toBe(true);
    expect(client.isEnabled('killed')).toBe(false);
    expect(client.isEnabled('beta-users', { userId: 'alice' })).toBe(true);
    expect(client.isEnabled('beta-users', { userId: 'mallory' })).toBe(false);
    expect(client.getVariant('themed', { userId: 'x' })).toMatchObject({
      name: 'dark',
      enabled: true,
      payload: { type: 'string', value: 'night' },
    });
    await client.ready();
    expect(client.status()).toMatchObject({ state: 'offline', ready: true, source: 'bootstrap' });
    expect(client.staleness()).toBe(0);
    await client.close();
  });

  it('evaluates a bootstrap file offline', async () => {
    const file = join(dir, 'flags.json');
    writeFileSync(file, JSON.stringify(FLAGS));
    const client = createFlagClient({ bootstrap: file, env: false });
    expect(client.isEnabled('on-for-all')).toBe(true);
    expect(client.evaluate('killed').reason).toBe('DISABLED');
    await client.close();
  });

  it('rejects a bootstrap file that is missing, not JSON, or not a features payload', () => {
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{ nope');
    const wrongShape = join(dir, 'shape.json');
    writeFileSync(wrongShape, JSON.stringify({ features: [{ name: 'x', enabled: 'yes' }] }));
    expect(() => createFlagClient({ bootstrap: join(dir, 'missing.json'), env: false })).toThrow(
      expect.objectContaining({ code: 'FLAG_BOOTSTRAP_UNREADABLE', category: 'config' }),
    );
    expect(() => createFlagClient({ bootstrap: notJson, env: false })).toThrow(
      expect.objectContaining({ code: 'FLAG_BOOTSTRAP_INVALID', location: notJson }),
    );
    expect(() => createFlagClient({ bootstrap: wrongShape, env: false })).toThrow(
      expect.objectContaining({
        code: 'FLAG_PAYLOAD_INVALID',
        details: { problems: [expect.stringContaining('$.features.0.enabled')] },
      }),
    );
  });

  it('returns the default and FLAG_NOT_FOUND for an unknown flag', async () => {
    const client = createFlagClient({ bootstrap: FLAGS, env: false });
    expect(client.isEnabled('nope')).toBe(false);
    expect(client.isEnabled('nope', {}, true)).toBe(true);
    expect(client.evaluate('nope')).toMatchObject({ reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    await client.close();
  });

  it('serves flags from environment variables alone, with no server and no bootstrap', async () => {
    const client = createFlagClient({
      env: {
        CUTOVER_FLAG_NEW_DASHBOARD: 'false',
        CUTOVER_FLAG_NEW_DASHBOARD_USERS: 'alice',
        CUTOVER_FLAG_BETA_SEARCH_USERS: 'carol',
        CUTOVER_FLAG_EVERYONE: '100',
        CUTOVER_FLAG_NOBODY: '0',
      },
    });
    await client.ready();
    expect(client.isEnabled('new-dashboard', { userId: 'alice' })).toBe(false);
    expect(client.isEnabled('beta-search', { userId: 'carol' })).toBe(true);
    expect(client.isEnabled('beta-search', { userId: 'dave' })).toBe(false);
    expect(client.isEnabled('everyone', { userId: 'dave' })).toBe(true);
    expect(client.isEnabled('nobody', { userId: 'dave' })).toBe(false);
    await client.close();
  });

  it('lets environment variables override the bootstrap', async () => {
    const client = createFlagClient({
      bootstrap: FLAGS,
      env: { CUTOVER_FLAG_KILLED: 'true', CUTOVER_FLAG_ON_FOR_ALL: 'false' },
    });
    expect(client.isEnabled('killed')).toBe(true);
    expect(client.isEnabled('on-for-all')).toBe(false);
    expect(client.getVariant('themed').name).toBe('dark');
    await client.close();
  });

  it('refuses malformed CUTOVER_FLAG_* variables at creation, naming them', () => {
    expect(() =>
      createFlagClient({ env: { CUTOVER_FLAG_A: 'yes', CUTOVER_FLAG_B: '300' } }),
    ).toThrow(
      expect.objectContaining({
        code: 'FLAG_ENV_INVALID',
        location: 'CUTOVER_FLAG_A, CUTOVER_FLAG_B',
      }),
    );
  });

  it('emits ready once, for listeners added right after creation', async () => {
    const client = createFlagClient({ bootstrap: FLAGS, env: false });
    const seen: FlagClientEvents['ready'][] = [];
    client.on('ready', (event) => seen.push(event));
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([{ source: 'bootstrap' }]);
    await client.close();
  });

  it('marks evaluations STALE once the bootstrap is older than staleAfterMs and the server stays unreachable', async () => {
    let now = 1_000_000;
    const port = await freePort();
    const client = createFlagClient({
      url: `http://127.0.0.1:${port}`,
      bootstrap: FLAGS,
      env: false,
      staleAfterMs: 5_000,
      pollIntervalMs: 60_000,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      clock: () => now,
    });
    const stale: number[] = [];
    const errors: string[] = [];
    client.on('stale', (e) => stale.push(e.stalenessMs));
    client.on('error', (e) => errors.push(e.code));
    expect(client.evaluate('on-for-all').reason).not.toBe('STALE');
    now += 4_000;
    expect(client.staleness()).toBe(4_000);
    expect(client.evaluate('on-for-all').reason).not.toBe('STALE');
    now += 2_000;
    const evaluation = client.evaluate('on-for-all');
    expect(evaluation).toMatchObject({ enabled: true, reason: 'STALE' });
    expect(evaluation.staleReason).toBeDefined();
    expect(client.evaluate('nope').reason).toBe('ERROR');
    expect(client.isStale()).toBe(true);
    expect(stale).toEqual([6_000]);
    await expect.poll(() => errors.length).toBeGreaterThan(0);
    expect(errors).toContain('FLAG_STREAM_FAILED');
    await client.close();
  });

  it('answers PROVIDER_NOT_READY before any copy and rejects ready() after its timeout', async () => {
    const port = await freePort();
    const client = createFlagClient({
      url: `http://127.0.0.1:${port}`,
      env: false,
      backoff: { initialMs: 50, maxMs: 200 },
      pollIntervalMs: 100,
    });
    expect(client.evaluate('on-for-all')).toMatchObject({
      enabled: false,
      reason: 'ERROR',
      errorCode: 'PROVIDER_NOT_READY',
    });
    expect(client.isEnabled('on-for-all', {}, true)).toBe(true);
    expect(client.staleness()).toBe(Infinity);
    await expect(client.ready(300)).rejects.toMatchObject({
      code: 'FLAG_CLIENT_NOT_READY',
      category: 'unavailable',
    });
    const pending = client.ready(10_000);
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'FLAG_CLIENT_CLOSED' });
  });

  it('refuses a url that is not http(s)', () => {
    expect(() => createFlagClient({ url: 'ftp://x', env: false })).toThrow(
      expect.objectContaining({ code: 'FLAG_CLIENT_CONFIG_INVALID', location: 'url' }),
    );
  });
});
