import { describe, expect, it } from 'vitest';
import { createEvaluator, type FeatureDefinition, type Strategy } from './index.js';

function evaluatorOf(
  features: FeatureDefinition[],
  options?: Parameters<typeof createEvaluator>[1],
) {
  return createEvaluator({ version: 2, features }, options);
}

function feature(
  name: string,
  strategies: Strategy[],
  extra: Partial<FeatureDefinition> = {},
): FeatureDefinition {
  return { name, enabled: true, strategies, ...extra };
}

const flexible = (rollout: number, extra: Partial<Strategy> = {}): Strategy => ({
  name: 'flexibleRollout',
  parameters: { rollout: String(rollout), stickiness: 'default', groupId: 'g' },
  ...extra,
});

describe('evaluation reasons (OpenFeature names)', () => {
  const e = evaluatorOf([
    feature('off', [{ name: 'default' }], { enabled: false }),
    feature('everyone', [{ name: 'default' }]),
    feature('no-strategies', []),
    feature('full-rollout', [flexible(100)]),
    feature('half', [flexible(50)]),
    feature('beta', [
      { name: 'default', constraints: [{ contextName: 'plan', operator: 'IN', values: ['beta'] }] },
    ]),
    feature('listed', [{ name: 'userWithId', parameters: { userIds: 'ann, bob' } }]),
    feature('nobody-matches', [
      { name: 'default', constraints: [{ contextName: 'plan', operator: 'IN', values: ['x'] }] },
    ]),
    feature('ab', [{ name: 'default' }], {
      variants: [
        { name: 'a', weight: 500, overrides: [{ contextName: 'userId', values: ['forced'] }] },
        { name: 'b', weight: 500 },
      ],
    }),
    feature('single-variant', [{ name: 'default' }], {
      variants: [{ name: 'only', weight: 1000 }],
    }),
    feature('child', [{ name: 'default' }], { dependencies: [{ feature: 'off' }] }),
    { name: 'broken', enabled: true, strategies: 'nope' } as unknown as FeatureDefinition,
  ]);

  it('a disabled flag (kill switch) is DISABLED', () => {
    expect(e.evaluate('off', { userId: 'u' })).toMatchObject({
      enabled: false,
      reason: 'DISABLED',
    });
  });
  it('an unsatisfied parent dependency is DISABLED', () => {
    expect(e.evaluate('child', {})).toMatchObject({ enabled: false, reason: 'DISABLED' });
  });
  it('the default strategy without constraints, an empty strategy list and a 100 % rollout are STATIC', () => {
    expect(e.evaluate('everyone', {})).toMatchObject({
      enabled: true,
      reason: 'STATIC',
      strategy: 'default',
    });
    expect(e.evaluate('no-strategies', {})).toMatchObject({ enabled: true, reason: 'STATIC' });
    expect(e.evaluate('full-rollout', { userId: 'u' })).toMatchObject({
      enabled: true,
      reason: 'STATIC',
    });
  });
  it('a percentage rollout below 100 % is SPLIT', () => {
    let seen = 0;
    for (let i = 0; i < 50; i++) {
      const r = e.evaluate('half', { userId: `u${i}` });
      if (r.enabled) {
        seen++;
        expect(r).toMatchObject({ reason: 'SPLIT', strategy: 'flexibleRollout' });
      } else {
        expect(r.reason).toBe('DEFAULT');
      }
    }
    expect(seen).toBeGreaterThan(0);
  });
  it('a constraint or user-list match is TARGETING_MATCH', () => {
    expect(e.evaluate('beta', { properties: { plan: 'beta' } })).toMatchObject({
      enabled: true,
      reason: 'TARGETING_MATCH',
    });
    expect(e.evaluate('listed', { userId: 'bob' })).toMatchObject({
      enabled: true,
      reason: 'TARGETING_MATCH',
      strategy: 'userWithId',
    });
  });
  it('an enabled flag whose strategies do not match is DEFAULT (off)', () => {
    expect(e.evaluate('nobody-matches', { properties: { plan: 'y' } })).toMatchObject({
      enabled: false,
      reason: 'DEFAULT',
      variant: { name: 'disabled', enabled: false, feature_enabled: false },
    });
  });
  it('a weighted variant pick is SPLIT, an override TARGETING_MATCH, a single variant keeps the strategy reason', () => {
    expect(e.evaluate('ab', { userId: 'someone' })).toMatchObject({
      reason: 'SPLIT',
      enabled: true,
    });
    expect(e.evaluate('ab', { userId: 'forced' })).toMatchObject({
      reason: 'TARGETING_MATCH',
      variant: { name: 'a', enabled: true, feature_enabled: true },
    });
    expect(e.evaluate('single-variant', {})).toMatchObject({
      reason: 'STATIC',
      variant: { name: 'only', enabled: true },
    });
  });
  it('an unknown flag is DEFAULT with FLAG_NOT_FOUND', () => {
    expect(e.evaluate('missing', {})).toEqual({
      enabled: false,
      variant: { name: 'disabled', enabled: false, feature_enabled: false },
      reason: 'DEFAULT',
      errorCode: 'FLAG_NOT_FOUND',
      errorMessage: 'flag "missing" not found',
    });
    expect(e.isEnabled('missing')).toBe(false);
    expect(e.getVariant('missing')).toEqual({
      name: 'disabled',
      enabled: false,
      feature_enabled: false,
    });
  });
  it('a feature that cannot be compiled is ERROR with PARSE_ERROR, and off', () => {
    expect(e.evaluate('broken', {})).toMatchObject({
      enabled: false,
      reason: 'ERROR',
      errorCode: 'PARSE_ERROR',
    });
    expect(e.isEnabled('broken', {})).toBe(false);
  });
  it('a context whose values cannot be converted to strings is ERROR with GENERAL, and off', () => {
    const hostile = { properties: { plan: Object.create(null) as string } };
    expect(e.evaluate('beta', hostile)).toMatchObject({
      enabled: false,
      reason: 'ERROR',
      errorCode: 'GENERAL',
    });
    expect(e.isEnabled('beta', hostile)).toBe(false);
  });
});

describe('createEvaluator', () => {
  it('lists the flag names in payload order', () => {
    expect(evaluatorOf([feature('b', []), feature('a', [])]).names).toEqual(['b', 'a']);
  });

  it('returns frozen, shared results', () => {
    const e = evaluatorOf([feature('a', [{ name: 'default' }])]);
    const first = e.evaluate('a', {});
    expect(Object.isFrozen(first)).toBe(true);
    expect(e.evaluate('a', { userId: 'x' })).toBe(first);
  });

  it('fails closed on an unknown strategy but lets another strategy enable the flag', () => {
    const e = evaluatorOf([
      feature('only-unknown', [{ name: 'myCustomStrategy' }]),
      feature('unknown-then-default', [{ name: 'myCustomStrategy' }, { name: 'default' }]),
    ]);
    expect(e.isEnabled('only-unknown', {})).toBe(false);
    expect(e.isEnabled('unknown-then-default', {})).toBe(true);
  });

  it('fails closed on an unknown operator and on a broken regex, even when inverted', () => {
    const e = evaluatorOf([
      feature('op', [
        {
          name: 'default',
          constraints: [{ contextName: 'a', operator: 'LIKE', values: ['x'], inverted: true }],
        },
      ]),
      feature('re', [
        {
          name: 'default',
          constraints: [{ contextName: 'a', operator: 'REGEX', value: '(a', inverted: true }],
        },
      ]),
    ]);
    expect(e.isEnabled('op', { properties: { a: 'y' } })).toBe(false);
    expect(e.isEnabled('re', { properties: { a: 'y' } })).toBe(false);
  });

  it('skips disabled strategies, and serves a flag whose strategies are all disabled as off', () => {
    const e = evaluatorOf([
      feature('some', [
        { name: 'default', disabled: true },
        { name: 'userWithId', parameters: { userIds: 'a' } },
      ]),
      feature('all', [{ name: 'default', disabled: true }]),
    ]);
    expect(e.isEnabled('some', { userId: 'b' })).toBe(false);
    expect(e.isEnabled('some', { userId: 'a' })).toBe(true);
    expect(e.isEnabled('all', {})).toBe(false);
  });

  it('uses the injected clock for DATE constraints without currentTime', () => {
    const payload = [
      feature('after', [
        {
          name: 'default',
          constraints: [
            { contextName: 'currentTime', operator: 'DATE_AFTER', value: '2030-01-01T00:00:00Z' },
          ],
        },
      ]),
    ];
    expect(
      evaluatorOf(payload, { now: () => new Date('2029-12-31T23:59:59Z') }).isEnabled('after', {}),
    ).toBe(false);
    expect(
      evaluatorOf(payload, { now: () => new Date('2030-01-01T00:00:01Z') }).isEnabled('after', {}),
    ).toBe(true);
    expect(
      evaluatorOf(payload, { now: () => new Date(0) }).isEnabled('after', {
        currentTime: new Date('2031-01-01'),
      }),
    ).toBe(true);
  });

  it('uses the injected random source for random rollouts', () => {
    const payload = [
      feature('r', [{ name: 'gradualRolloutRandom', parameters: { percentage: '30' } }]),
    ];
    expect(evaluatorOf(payload, { random: () => 0.29 }).isEnabled('r', {})).toBe(true);
    expect(evaluatorOf(payload, { random: () => 0.3 }).isEnabled('r', {})).toBe(false);
  });

  it('uses the given host name for applicationHostname, case-insensitively', () => {
    const payload = [
      feature('h', [{ name: 'applicationHostname', parameters: { hostNames: 'web-1, WEB-2' } }]),
    ];
    expect(evaluatorOf(payload, { hostname: 'Web-2' }).isEnabled('h', {})).toBe(true);
    expect(evaluatorOf(payload, { hostname: 'web-3' }).isEnabled('h', {})).toBe(false);
  });

  it('falls back to the static context for appName and environment', () => {
    const payload = [
      feature('env', [
        {
          name: 'default',
          constraints: [{ contextName: 'environment', operator: 'IN', values: ['production'] }],
        },
      ]),
    ];
    const e = evaluatorOf(payload, { staticContext: { environment: 'production' } });
    expect(e.isEnabled('env', {})).toBe(true);
    expect(e.isEnabled('env', { environment: 'staging' })).toBe(false);
  });

  it('matches remoteAddress against IPv4 addresses and CIDR ranges', () => {
    const e = evaluatorOf([
      feature('ip', [
        { name: 'remoteAddress', parameters: { IPs: '10.0.0.0/8, 192.168.1.7, ::1' } },
      ]),
    ]);
    expect(e.isEnabled('ip', { remoteAddress: '10.200.3.4' })).toBe(true);
    expect(e.isEnabled('ip', { remoteAddress: '192.168.1.7' })).toBe(true);
    expect(e.isEnabled('ip', { remoteAddress: '::1' })).toBe(true);
    expect(e.isEnabled('ip', { remoteAddress: '11.0.0.1' })).toBe(false);
    expect(e.isEnabled('ip', {})).toBe(false);
  });

  it('applies segments, and a missing segment makes its strategy fail', () => {
    const e = createEvaluator({
      version: 2,
      features: [
        feature('seg', [{ name: 'default', segments: [1] }]),
        feature('missing-seg', [{ name: 'default', segments: [2] }]),
      ],
      segments: [
        { id: 1, constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'] }] },
      ],
    });
    expect(e.isEnabled('seg', { properties: { plan: 'pro' } })).toBe(true);
    expect(e.isEnabled('seg', { properties: { plan: 'free' } })).toBe(false);
    expect(e.isEnabled('missing-seg', { properties: { plan: 'pro' } })).toBe(false);
  });

  it('does not read context fields from Object.prototype', () => {
    const e = evaluatorOf([
      feature('proto', [
        {
          name: 'default',
          constraints: [
            { contextName: 'constructor', operator: 'STR_CONTAINS', values: ['function'] },
          ],
        },
      ]),
    ]);
    expect(e.isEnabled('proto', {})).toBe(false);
  });
});
