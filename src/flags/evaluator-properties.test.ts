import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONSTRAINT_OPERATORS,
  STRATEGY_NAMES,
  createEvaluator,
  type FlagContext,
  type Strategy,
} from './index.js';

function rolloutStrategy(name: string, p: number, groupId: string): Strategy {
  return name === 'flexibleRollout'
    ? { name, parameters: { rollout: String(p), stickiness: 'userId', groupId } }
    : { name, parameters: { percentage: String(p), groupId } };
}

function rolloutEvaluator(
  groupId: string,
  strategy: 'flexibleRollout' | 'gradualRolloutUserId',
  percentages: number[],
) {
  return createEvaluator({
    version: 2,
    features: percentages.map((p) => ({
      name: `p${p}`,
      enabled: true,
      strategies: [rolloutStrategy(strategy, p, groupId)],
    })),
  });
}

/** xorshift32: a reproducible stream of pseudo-random ids for a given seed. */
function idStream(seed: number): () => string {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return `user-${(x >>> 0).toString(36)}-${((x * 2654435761) >>> 0).toString(16)}`;
  };
}

describe('rollout properties', () => {
  it('raising a rollout percentage never removes a user who was in (monotonic expansion)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('flexibleRollout' as const, 'gradualRolloutUserId' as const),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), {
          minLength: 1,
          maxLength: 50,
        }),
        (groupId, strategy, a, b, userIds) => {
          const [low, high] = a <= b ? [a, b] : [b, a];
          const e = rolloutEvaluator(groupId, strategy, [low, high]);
          for (const userId of userIds) {
            if (e.isEnabled(`p${low}`, { userId }))
              expect(e.isEnabled(`p${high}`, { userId })).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the share of enabled ids over 100,000 random ids is within 1 point of the percentage', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.string({ maxLength: 20 }),
        fc.integer(),
        (percentage, groupId, seed) => {
          const e = rolloutEvaluator(groupId, 'flexibleRollout', [percentage]);
          const next = idStream(seed);
          const n = 100_000;
          let enabled = 0;
          for (let i = 0; i < n; i++)
            if (e.isEnabled(`p${percentage}`, { userId: next() })) enabled++;
          expect(Math.abs((enabled / n) * 100 - percentage)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 12 },
    );
  });
});

const arbitraryValue = fc.anything({
  withNullPrototype: true,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withDate: true,
  maxDepth: 2,
});

const arbitraryConstraint = fc.oneof(
  fc.record(
    {
      contextName: fc.oneof(
        fc.constantFrom(
          'userId',
          'sessionId',
          'remoteAddress',
          'environment',
          'appName',
          'currentTime',
          'properties',
          'country',
          'version',
          'constructor',
          '__proto__',
        ),
        fc.string(),
        arbitraryValue,
      ),
      operator: fc.oneof(fc.constantFrom(...CONSTRAINT_OPERATORS), fc.string(), arbitraryValue),
      values: fc.oneof(fc.array(fc.string()), fc.array(arbitraryValue), arbitraryValue),
      value: fc.oneof(
        fc.string(),
        fc.constantFrom('(a', '1.2.3', 'v1.0.0', '2024-01-01', '10.0.0.0/8', '::1/64', 'NaN'),
        arbitraryValue,
      ),
      inverted: fc.oneof(fc.boolean(), arbitraryValue),
      caseInsensitive: fc.oneof(fc.boolean(), arbitraryValue),
    },
    { requiredKeys: [] },
  ),
  arbitraryValue,
);

const arbitraryVariants = fc.oneof(
  fc.array(
    fc.record(
      {
        name: fc.oneof(fc.string(), arbitraryValue),
        weight: fc.oneof(fc.integer({ min: -10, max: 1000 }), fc.double(), arbitraryValue),
        stickiness: fc.oneof(
          fc.constantFrom('default', 'userId', 'sessionId', 'random', 'custom'),
          arbitraryValue,
        ),
        payload: arbitraryValue,
        overrides: fc.oneof(
          fc.array(fc.record({ contextName: fc.string(), values: fc.array(fc.string()) })),
          arbitraryValue,
        ),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 4 },
  ),
  arbitraryValue,
);

const arbitraryStrategy = fc.oneof(
  fc.record(
    {
      name: fc.oneof(fc.constantFrom(...STRATEGY_NAMES), fc.string(), arbitraryValue),
      parameters: fc.oneof(
        fc.dictionary(
          fc.constantFrom(
            'rollout',
            'percentage',
            'stickiness',
            'groupId',
            'userIds',
            'IPs',
            'hostNames',
            'x',
          ),
          fc.oneof(fc.string(), fc.integer({ min: -5, max: 120 }).map(String), arbitraryValue),
        ),
        arbitraryValue,
      ),
      constraints: fc.oneof(fc.array(arbitraryConstraint, { maxLength: 4 }), arbitraryValue),
      segments: fc.oneof(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), arbitraryValue), { maxLength: 3 }),
        arbitraryValue,
      ),
      variants: arbitraryVariants,
      disabled: fc.oneof(fc.boolean(), arbitraryValue),
    },
    { requiredKeys: [] },
  ),
  arbitraryValue,
);

const arbitraryFeature = fc.record(
  {
    name: fc.constantFrom('a', 'b', 'c'),
    enabled: fc.oneof(fc.boolean(), arbitraryValue),
    strategies: fc.oneof(fc.array(arbitraryStrategy, { maxLength: 3 }), arbitraryValue),
    variants: arbitraryVariants,
    dependencies: fc.oneof(
      fc.array(
        fc.record(
          {
            feature: fc.constantFrom('a', 'b', 'c', 'x'),
            enabled: fc.boolean(),
            variants: fc.array(fc.string()),
          },
          { requiredKeys: ['feature'] },
        ),
        { maxLength: 2 },
      ),
      arbitraryValue,
    ),
  },
  { requiredKeys: ['name'] },
);

const arbitraryPayload = fc.oneof(
  fc.record({
    version: fc.constant(2),
    features: fc.array(arbitraryFeature, { maxLength: 3 }),
    segments: fc.oneof(
      fc.array(
        fc.record({
          id: fc.integer({ min: 0, max: 3 }),
          constraints: fc.oneof(fc.array(arbitraryConstraint, { maxLength: 3 }), arbitraryValue),
        }),
        { maxLength: 3 },
      ),
      arbitraryValue,
    ),
  }),
  arbitraryValue,
);

const arbitraryContext = fc.oneof(
  fc.record(
    {
      userId: fc.oneof(fc.string(), arbitraryValue),
      sessionId: fc.oneof(fc.string(), arbitraryValue),
      remoteAddress: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), arbitraryValue),
      environment: fc.oneof(fc.string(), arbitraryValue),
      appName: fc.oneof(fc.string(), arbitraryValue),
      currentTime: fc.oneof(fc.date(), fc.string(), arbitraryValue),
      properties: fc.oneof(fc.dictionary(fc.string(), arbitraryValue), arbitraryValue),
      country: arbitraryValue,
    },
    { requiredKeys: [] },
  ),
  arbitraryValue,
);

describe('robustness', () => {
  it('never throws for arbitrary contexts and arbitrary (even malformed) definitions', () => {
    fc.assert(
      fc.property(
        arbitraryPayload,
        fc.array(arbitraryContext, { minLength: 1, maxLength: 4 }),
        (payload, contexts) => {
          const e = createEvaluator(payload as never, {
            random: () => 0.5,
            now: () => new Date(0),
            hostname: 'h',
          });
          for (const name of ['a', 'b', 'c', 'missing']) {
            for (const context of contexts) {
              const ctx = context as FlagContext;
              const enabled = e.isEnabled(name, ctx);
              const variant = e.getVariant(name, ctx);
              const evaluation = e.evaluate(name, ctx);
              expect(typeof enabled).toBe('boolean');
              expect(typeof variant.name).toBe('string');
              expect(typeof evaluation.enabled).toBe('boolean');
              expect([
                'TARGETING_MATCH',
                'SPLIT',
                'DEFAULT',
                'DISABLED',
                'STATIC',
                'ERROR',
              ]).toContain(evaluation.reason);
              if (evaluation.reason !== 'ERROR') expect(evaluation.enabled).toBe(enabled);
            }
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
