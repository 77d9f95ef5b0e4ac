import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClientFeaturesResponse } from '../flags/model.js';
import { applyFlagEnv, flagEnvName, flagKeyFromEnvName, parseFlagEnv } from './env-flags.js';

describe('flags from environment variables', () => {
  it('maps the key new-dashboard to CUTOVER_FLAG_NEW_DASHBOARD and back', () => {
    expect(flagEnvName('new-dashboard')).toBe('NEW_DASHBOARD');
    expect(flagEnvName('checkout.v2')).toBe('CHECKOUT_V2');
    expect(flagKeyFromEnvName('NEW_DASHBOARD')).toBe('new-dashboard');
  });

  it('round-trips every variable name through key and back', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z0-9]+(_[A-Z0-9]+)*$/), (name) => {
        expect(flagEnvName(flagKeyFromEnvName(name))).toBe(name);
      }),
    );
  });

  it('reads true, false, a percentage and a user list', () => {
    const { overrides, errors } = parseFlagEnv({
      CUTOVER_FLAG_A: 'true',
      CUTOVER_FLAG_B: 'FALSE',
      CUTOVER_FLAG_C: '25',
      CUTOVER_FLAG_D: '40%',
      CUTOVER_FLAG_E_USERS: ' alice, bob ,,carol ',
      CUTOVER_FLAG_EMPTY: '',
      OTHER: 'true',
    });
    expect(errors).toEqual([]);
    expect([...overrides.keys()].sort()).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(overrides.get('A')?.state).toBe(true);
    expect(overrides.get('B')?.state).toBe(false);
    expect(overrides.get('C')?.state).toBe(25);
    expect(overrides.get('D')?.state).toBe(40);
    expect(overrides.get('E')).toMatchObject({
      key: 'e',
      state: undefined,
      users: ['alice', 'bob', 'carol'],
    });
  });

  it('reports every malformed variable with its name and ignores it', () => {
    const { overrides, errors } = parseFlagEnv({
      CUTOVER_FLAG_A: 'maybe',
      CUTOVER_FLAG_B: '101',
      CUTOVER_FLAG_C: '2.5',
      CUTOVER_FLAG_: 'true',
      CUTOVER_FLAG_ok: 'true',
      CUTOVER_FLAG_D: 'true',
    });
    expect(errors.map((e) => [e.code, e.location])).toEqual([
      ['FLAG_ENV_INVALID', 'CUTOVER_FLAG_'],
      ['FLAG_ENV_INVALID', 'CUTOVER_FLAG_A'],
      ['FLAG_ENV_INVALID', 'CUTOVER_FLAG_B'],
      ['FLAG_ENV_INVALID', 'CUTOVER_FLAG_C'],
      ['FLAG_ENV_INVALID', 'CUTOVER_FLAG_ok'],
    ]);
    expect([...overrides.keys()]).toEqual(['D']);
  });

  const server: ClientFeaturesResponse = {
    version: 2,
    features: [
      {
        name: 'new-dashboard',
        enabled: false,
        strategies: [{ name: 'default' }],
        variants: [{ name: 'blue', weight: 1000, payload: { type: 'string', value: 'b' } }],
        dependencies: [{ feature: 'parent' }],
      },
      { name: 'other', enabled: true, strategies: [{ name: 'default' }] },
    ],
  };

  it('overrides the server definition of the matching flag, keeping its variants', () => {
    const { overrides } = parseFlagEnv({
      CUTOVER_FLAG_NEW_DASHBOARD: '30',
      CUTOVER_FLAG_NEW_DASHBOARD_USERS: 'alice',
    });
    const out = applyFlagEnv(server, overrides);
    const flag = out.features.find((f) => f.name === 'new-dashboard');
    expect(flag).toEqual({
      name: 'new-dashboard',
      enabled: true,
      strategies: [
        { name: 'userWithId', parameters: { userIds: 'alice' } },
        {
          name: 'flexibleRollout',
          parameters: { rollout: '30', stickiness: 'default', groupId: 'new-dashboard' },
        },
      ],
      variants: server.features[0]?.variants,
    });
    expect(out.features.find((f) => f.name === 'other')).toBe(server.features[1]);
    expect(server.features[0]?.enabled).toBe(false);
  });

  it('adds flags that only exist in the environment', () => {
    const { overrides } = parseFlagEnv({ CUTOVER_FLAG_BETA_SEARCH: 'true' });
    const out = applyFlagEnv({ version: 2, features: [] }, overrides);
    expect(out.features).toEqual([
      { name: 'beta-search', enabled: true, strategies: [{ name: 'default', parameters: {} }] },
    ]);
  });

  it('treats false as a kill switch that wins over the user list', () => {
    const { overrides } = parseFlagEnv({
      CUTOVER_FLAG_NEW_DASHBOARD: 'false',
      CUTOVER_FLAG_NEW_DASHBOARD_USERS: 'alice',
    });
    const flag = applyFlagEnv(server, overrides).features[0];
    expect(flag?.enabled).toBe(false);
    expect(flag?.strategies).toEqual([]);
  });

  it('enables only the listed users when the list is set alone', () => {
    const { overrides } = parseFlagEnv({ CUTOVER_FLAG_OTHER_USERS: 'u1,u2' });
    const flag = applyFlagEnv(server, overrides).features[1];
    expect(flag).toMatchObject({
      enabled: true,
      strategies: [{ name: 'userWithId', parameters: { userIds: 'u1,u2' } }],
    });
  });
});
