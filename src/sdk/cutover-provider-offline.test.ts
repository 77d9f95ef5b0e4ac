import { ErrorCode, OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/helpers/free-port.js';
import type { ClientFeaturesResponse, FeatureDefinition } from '../flags/model.js';
import { CutoverProvider, toFlagContext } from './cutover-provider.js';
import { createFlagClient } from './flag-client.js';

function variantFlag(
  name: string,
  type: 'string' | 'number' | 'json' | 'csv',
  value: string,
): FeatureDefinition {
  return {
    name,
    enabled: true,
    strategies: [{ name: 'default' }],
    variants: [
      { name: `${name}-v`, weight: 1000, stickiness: 'default', payload: { type, value } },
    ],
  };
}

const FLAGS: ClientFeaturesResponse = {
  version: 2,
  features: [
    { name: 'on', enabled: true, strategies: [{ name: 'default' }] },
    { name: 'off', enabled: false, strategies: [{ name: 'default' }] },
    {
      name: 'vip',
      enabled: true,
      strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }],
    },
    variantFlag('greeting', 'string', 'hello'),
    variantFlag('limit', 'number', '42.5'),
    variantFlag('bad-number', 'number', 'lots'),
    variantFlag('config', 'json', '{"color":"blue","sizes":[1,2]}'),
    variantFlag('bad-json', 'json', '{oops'),
    variantFlag('scalar-json', 'json', '3'),
    {
      name: 'named-only',
      enabled: true,
      strategies: [{ name: 'default' }],
      variants: [{ name: 'green', weight: 1000, stickiness: 'default' }],
    },
    { ...variantFlag('off-with-variant', 'string', 'x'), enabled: false },
  ],
};

afterAll(async () => {
  await OpenFeature.close();
});

async function setUp(domain: string): Promise<ReturnType<typeof OpenFeature.getClient>> {
  await OpenFeature.setProviderAndWait(
    domain,
    new CutoverProvider({ bootstrap: FLAGS, env: false }),
  );
  return OpenFeature.getClient(domain);
}

describe('OpenFeature provider (bootstrap, no server)', () => {
  it('resolves booleans with targeting and the DISABLED reason', async () => {
    const client = await setUp('bool');
    expect(await client.getBooleanDetails('on', false)).toMatchObject({ value: true });
    expect(await client.getBooleanDetails('off', true)).toMatchObject({
      value: false,
      reason: 'DISABLED',
    });
    expect(await client.getBooleanValue('vip', false, { targetingKey: 'alice' })).toBe(true);
    expect(await client.getBooleanValue('vip', false, { targetingKey: 'bob' })).toBe(false);
  });

  it('resolves strings, numbers and objects from variant payloads', async () => {
    const client = await setUp('typed');
    expect(await client.getStringDetails('greeting', 'dflt')).toMatchObject({
      value: 'hello',
      variant: 'greeting-v',
    });
    expect(await client.getStringValue('named-only', 'dflt')).toBe('green');
    expect(await client.getNumberValue('limit', 0)).toBe(42.5);
    expect(await client.getObjectValue('config', {})).toEqual({ color: 'blue', sizes: [1, 2] });
    expect(await client.getStringDetails('off-with-variant', 'dflt')).toMatchObject({
      value: 'dflt',
      reason: 'DISABLED',
    });
  });

  it('returns the default with FLAG_NOT_FOUND, TYPE_MISMATCH and PARSE_ERROR, never throwing', async () => {
    const client = await setUp('errors');
    expect(await client.getBooleanDetails('missing', true)).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
    expect(await client.getNumberDetails('greeting', 7)).toMatchObject({
      value: 7,
      reason: 'ERROR',
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getNumberDetails('named-only', 7)).toMatchObject({
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getObjectDetails('scalar-json', {})).toMatchObject({
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getNumberDetails('bad-number', 7)).toMatchObject({
      value: 7,
      errorCode: ErrorCode.PARSE_ERROR,
    });
    expect(await client.getObjectDetails('bad-json', { a: 1 })).toMatchObject({
      value: { a: 1 },
      errorCode: ErrorCode.PARSE_ERROR,
    });
  });

  it('reports PROVIDER_NOT_READY and an ERROR status when no copy arrives', async () => {
    const port = await freePort();
    const provider = new CutoverProvider({
      url: `http://127.0.0.1:${port}`,
      env: false,
      readyTimeoutMs: 200,
      backoff: { initialMs: 50, maxMs: 100 },
    });
    expect(await provider.resolveBooleanEvaluation('on', false, {})).toMatchObject({
      value: false,
      errorCode: ErrorCode.PROVIDER_NOT_READY,
    });
    await expect(OpenFeature.setProviderAndWait('down', provider)).rejects.toBeDefined();
    const client = OpenFeature.getClient('down');
    expect(client.providerStatus).toBe(ProviderStatus.ERROR);
    expect(await client.getBooleanDetails('on', true)).toMatchObject({
      value: true,
      reason: 'ERROR',
    });
  });

  it('uses an existing client and leaves it open on close', async () => {
    const flagClient = createFlagClient({ bootstrap: FLAGS, env: false });
    const provider = new CutoverProvider({ client: flagClient });
    const events: string[] = [];
    provider.events.addHandler(ProviderEvents.Ready, () => events.push('ready'));
    await OpenFeature.setProviderAndWait('shared', provider);
    expect(await OpenFeature.getClient('shared').getBooleanValue('on', false)).toBe(true);
    await provider.onClose();
    expect(flagClient.status().state).toBe('offline');
    await flagClient.close();
  });

  it('maps the OpenFeature context to Unleash context fields', () => {
    const when = new Date('2030-01-01T00:00:00Z');
    expect(
      toFlagContext({
        targetingKey: 'u1',
        sessionId: 's1',
        remoteAddress: '10.0.0.1',
        currentTime: when,
        plan: 'pro',
        seats: 3,
        beta: true,
        nested: { ignored: 1 },
        properties: { region: 'eu' },
      }),
    ).toEqual({
      userId: 'u1',
      sessionId: 's1',
      remoteAddress: '10.0.0.1',
      currentTime: '2030-01-01T00:00:00.000Z',
      properties: { region: 'eu', plan: 'pro', seats: '3', beta: 'true' },
    });
    expect(toFlagContext({ targetingKey: 'u1', userId: 'u2' }).userId).toBe('u2');
  });
});
