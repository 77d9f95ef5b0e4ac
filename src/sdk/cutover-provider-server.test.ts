import { ErrorCode, OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/server-sdk';
import type { EventDetails } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutFlag, startFlagServer } from '../../test/helpers/flag-server.js';
import type { FlagServer } from '../../test/helpers/flag-server.js';
import { createTestDatabase } from '../../test/helpers/test-database.js';
import type { TestDatabase } from '../../test/helpers/test-database.js';
import type { Flag, VariantPayload } from '../flags/model.js';
import { CutoverProvider } from './cutover-provider.js';

let db: TestDatabase;
let server: FlagServer;

function variantFlag(key: string, payload: VariantPayload): Flag {
  const base = rolloutFlag(key, 100);
  const production = base.environments.production;
  if (production === undefined) throw new Error('no production environment');
  return {
    ...base,
    environments: {
      production: {
        ...production,
        variants: [{ name: `${key}-on`, weight: 1000, stickiness: 'default', payload }],
      },
    },
  };
}

beforeAll(async () => {
  db = await createTestDatabase('sdk_of');
  server = await startFlagServer(db.url);
  await server.admin('POST', '/api/admin/flags', rolloutFlag('checkout-v2', 100));
  await server.admin('POST', '/api/admin/flags', {
    ...rolloutFlag('kill-me', 100),
    environments: {
      production: { enabled: false, strategies: [{ name: 'default', parameters: {} }] },
    },
  });
  await server.admin(
    'POST',
    '/api/admin/flags',
    variantFlag('banner', { type: 'string', value: 'Welcome!' }),
  );
  await server.admin(
    'POST',
    '/api/admin/flags',
    variantFlag('page-size', { type: 'number', value: '25' }),
  );
  await server.admin(
    'POST',
    '/api/admin/flags',
    variantFlag('theme', { type: 'json', value: '{"primary":"#0af","dense":true}' }),
  );
});

afterAll(async () => {
  await OpenFeature.close();
  await server.stop();
  await db.drop();
});

describe('OpenFeature provider against cutover serve', () => {
  it('resolves boolean, string, number and object flags through setProviderAndWait and getClient', async () => {
    await OpenFeature.setProviderAndWait(
      'app',
      new CutoverProvider({ url: server.url, token: server.clientToken, env: false }),
    );
    const client = OpenFeature.getClient('app');
    expect(client.providerStatus).toBe(ProviderStatus.READY);
    const ctx = { targetingKey: 'user-1' };
    expect(await client.getBooleanDetails('checkout-v2', false, ctx)).toMatchObject({
      value: true,
      flagKey: 'checkout-v2',
    });
    expect(await client.getBooleanDetails('kill-me', true, ctx)).toMatchObject({
      value: false,
      reason: 'DISABLED',
    });
    expect(await client.getStringDetails('banner', 'none', ctx)).toMatchObject({
      value: 'Welcome!',
      variant: 'banner-on',
    });
    expect(await client.getNumberValue('page-size', 10, ctx)).toBe(25);
    expect(await client.getObjectValue('theme', {}, ctx)).toEqual({ primary: '#0af', dense: true });
    expect(await client.getBooleanDetails('no-such-flag', true, ctx)).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
    expect(await client.getNumberDetails('banner', 10, ctx)).toMatchObject({
      value: 10,
      reason: 'ERROR',
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
  });

  it('emits PROVIDER_CONFIGURATION_CHANGED with the changed flag when the server pushes a change', async () => {
    await OpenFeature.setProviderAndWait(
      'changes',
      new CutoverProvider({ url: server.url, token: server.clientToken, env: false }),
    );
    const client = OpenFeature.getClient('changes');
    const changed = new Promise<EventDetails<ProviderEvents.ConfigurationChanged>>((resolve) => {
      client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
        if (details?.flagsChanged?.includes('checkout-v2') === true) resolve(details);
      });
    });
    await server.admin('POST', '/api/admin/flags/checkout-v2/disable', { env: 'production' });
    const details = await changed;
    expect(details.flagsChanged).toEqual(['checkout-v2']);
    expect(
      await client.getBooleanDetails('checkout-v2', true, { targetingKey: 'u' }),
    ).toMatchObject({
      value: false,
      reason: 'DISABLED',
    });
    await server.admin('POST', '/api/admin/flags/checkout-v2/enable', { env: 'production' });
  });

  it('reports STALE (event, status and reason) past staleAfterMs, and READY when fresh again', async () => {
    let now = Date.parse('2030-06-01T12:00:00Z');
    await OpenFeature.setProviderAndWait(
      'stale',
      new CutoverProvider({
        url: server.url,
        token: server.clientToken,
        env: false,
        staleAfterMs: 10_000,
        clock: () => now,
      }),
    );
    const client = OpenFeature.getClient('stale');
    const events: string[] = [];
    client.addHandler(ProviderEvents.Stale, () => events.push('stale'));
    client.addHandler(ProviderEvents.Ready, () => events.push('ready'));
    now += 11_000;
    const details = await client.getStringDetails('banner', 'none', { targetingKey: 'u' });
    expect(details).toMatchObject({ value: 'Welcome!', reason: 'STALE' });
    expect(details.flagMetadata).toMatchObject({ stalenessMs: 11_000 });
    await expect.poll(() => client.providerStatus).toBe(ProviderStatus.STALE);
    await server.admin('POST', '/api/admin/flags/page-size/rollout', {
      rollout: 100,
      env: 'production',
    });
    await server.admin('POST', '/api/admin/flags/page-size/disable', { env: 'production' });
    await expect.poll(() => client.providerStatus).toBe(ProviderStatus.READY);
    // OpenFeature runs a READY handler at once when added to a ready provider, hence the first one.
    expect(events).toEqual(['ready', 'stale', 'ready']);
    expect(
      (await client.getBooleanDetails('checkout-v2', false, { targetingKey: 'u' })).reason,
    ).not.toBe('STALE');
  });
});
