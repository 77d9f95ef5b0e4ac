import { describe, expect, it } from 'vitest';
import {
  createEvaluator,
  flagToFeature,
  flagsToClientFeatures,
  parseFlag,
  resolveVariantWeights,
} from './index.js';

const flag = parseFlag({
  key: 'new-dashboard',
  description: 'v2',
  tags: { category: 'migration', team: 'web' },
  environments: {
    production: {
      enabled: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: 30 },
          constraints: [{ contextName: 'country', operator: 'IN', values: ['NO'] }],
          segments: [7],
        },
        { name: 'userWithId', parameters: { userIds: 'ann,bob' }, disabled: true },
      ],
      variants: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
    },
    staging: {
      enabled: true,
      strategies: [{ name: 'userWithId', parameters: { userIds: 'x' }, disabled: true }],
    },
  },
});

describe('flagToFeature', () => {
  it('serves the environment definition in the Unleash client format', () => {
    const feature = flagToFeature(flag, 'production');
    expect(feature).toMatchObject({
      name: 'new-dashboard',
      type: 'release',
      description: 'v2',
      enabled: true,
      impressionData: false,
      tags: [
        { type: 'category', value: 'migration' },
        { type: 'team', value: 'web' },
      ],
    });
    expect(feature.strategies).toEqual([
      {
        name: 'flexibleRollout',
        parameters: { rollout: '30', groupId: 'new-dashboard', stickiness: 'default' },
        constraints: [
          {
            contextName: 'country',
            operator: 'IN',
            values: ['NO'],
            inverted: false,
            caseInsensitive: false,
          },
        ],
        segments: [7],
        variants: [],
      },
    ]);
    expect(feature.variants?.map((v) => [v.name, v.weight, v.weightType, v.stickiness])).toEqual([
      ['a', 333, 'variable', 'default'],
      ['b', 334, 'variable', 'default'],
      ['c', 333, 'variable', 'default'],
    ]);
  });

  it('serves a flag whose strategies are all disabled as disabled', () => {
    expect(flagToFeature(flag, 'staging')).toMatchObject({ enabled: false, strategies: [] });
  });

  it('serves a flag without a definition for the environment as disabled', () => {
    expect(flagToFeature(flag, 'development')).toMatchObject({ enabled: false, strategies: [] });
    expect(flagToFeature(flag, 'toString')).toMatchObject({ enabled: false, strategies: [] });
  });

  it('builds a payload the evaluator runs, with segments', () => {
    const payload = flagsToClientFeatures([flag], 'production', [
      { id: 7, constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'] }] },
    ]);
    expect(payload.version).toBe(2);
    expect(payload.segments?.[0]?.constraints[0]).toMatchObject({
      inverted: false,
      values: ['pro'],
    });
    const evaluator = createEvaluator(payload);
    const rollout30 = createEvaluator({
      version: 2,
      features: [
        {
          name: 'x',
          enabled: true,
          strategies: [
            {
              name: 'flexibleRollout',
              parameters: { rollout: '30', groupId: 'new-dashboard', stickiness: 'default' },
            },
          ],
        },
      ],
    });
    for (let i = 0; i < 200; i++) {
      const userId = `user-${i}`;
      const ctx = { userId, properties: { country: 'NO', plan: 'pro' } };
      expect(evaluator.isEnabled('new-dashboard', ctx)).toBe(rollout30.isEnabled('x', ctx));
      expect(evaluator.isEnabled('new-dashboard', { userId, properties: { country: 'NO' } })).toBe(
        false,
      );
    }
  });
});

describe('resolveVariantWeights', () => {
  it('keeps fix weights and shares the rest among variable variants, adding up to 1000', () => {
    const resolved = resolveVariantWeights([
      { name: 'a', weight: 100, weightType: 'fix' },
      { name: 'b', weight: 0 },
      { name: 'c', weight: 0, weightType: 'variable' },
    ]);
    expect(resolved.map((v) => v.weight)).toEqual([100, 450, 450]);
    const seven = resolveVariantWeights(
      Array.from({ length: 7 }, (_, i) => ({ name: `v${i}`, weight: 0 })),
    );
    expect(seven.reduce((s, v) => s + v.weight, 0)).toBe(1000);
  });
});
