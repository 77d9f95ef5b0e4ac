import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCutoverError } from '../errors/index.js';
import { withEnabled, withPatch, withRollout, withUsers } from './flag-mutations.js';
import type { Constraint, Flag, Strategy } from './model.js';
import { parseFlag } from './parse-flag.js';

const strategy: fc.Arbitrary<Strategy> = fc.oneof(
  fc.record({
    name: fc.constant('flexibleRollout'),
    parameters: fc.record({
      rollout: fc.integer({ min: 0, max: 100 }).map(String),
      stickiness: fc.constantFrom('default', 'userId', 'sessionId'),
      groupId: fc.constant('g'),
    }),
    constraints: fc.constant<Constraint[]>([]),
  }),
  fc.record({
    name: fc.constant('default'),
    parameters: fc.constant({}),
    constraints: fc.constant<Constraint[]>([]),
  }),
  fc.record({
    name: fc.constant('userWithId'),
    parameters: fc.record({ userIds: fc.constantFrom('a', 'a,b', 'x,y,z') }),
    constraints: fc.constant<Constraint[]>([]),
  }),
);

const flag: fc.Arbitrary<Flag> = fc.record({
  key: fc.constant('prop-flag'),
  environments: fc.dictionary(
    fc.constantFrom('production', 'staging', 'dev'),
    fc.record({ enabled: fc.boolean(), strategies: fc.array(strategy, { maxLength: 4 }) }),
    { minKeys: 1 },
  ),
});
const env = fc.option(fc.constantFrom('production', 'staging', 'qa'), { nil: undefined });
const users = fc.array(fc.constantFrom('ann', 'bob', ' carl ', '', 'dora'), { maxLength: 5 });

describe('flag mutations (properties)', () => {
  it('applying the same rollout, users, enabled or patch twice equals applying it once', () => {
    fc.assert(
      fc.property(
        flag,
        env,
        fc.integer({ min: 0, max: 100 }),
        users,
        fc.boolean(),
        (f, e, p, u, on) => {
          for (const apply of [
            (x: Flag) => withRollout(x, p, e),
            (x: Flag) => withUsers(x, u, e),
            (x: Flag) => withEnabled(x, on, e),
            (x: Flag) => withPatch(x, { rollout: p, users: u, enabled: on }, e),
          ]) {
            const once = apply(f);
            expect(apply(once)).toEqual(once);
          }
        },
      ),
    );
  });

  it('always yields a valid definition and leaves other environments untouched', () => {
    fc.assert(
      fc.property(
        flag,
        fc.constantFrom('production', 'staging', 'qa'),
        fc.integer({ min: 0, max: 100 }),
        users,
        (f, e, p, u) => {
          const next = withPatch(f, { rollout: p, users: u }, e);
          expect(() => parseFlag(next)).not.toThrow();
          for (const [name, definition] of Object.entries(f.environments)) {
            if (name !== e) expect(next.environments[name]).toEqual(definition);
          }
        },
      ),
    );
  });

  it('sets the rollout of every flexibleRollout strategy and keeps a user list without duplicates', () => {
    fc.assert(
      fc.property(flag, fc.integer({ min: 0, max: 100 }), users, (f, p, u) => {
        const next = withPatch(f, { rollout: p, users: u });
        for (const definition of Object.values(next.environments)) {
          const flexible = definition.strategies.filter((s) => s.name === 'flexibleRollout');
          expect(flexible.length).toBeGreaterThan(0);
          for (const s of flexible) expect(Number(s.parameters?.rollout)).toBe(p);
          const lists = definition.strategies.filter((s) => s.name === 'userWithId');
          const expected = [...new Set(u.map((x) => x.trim()).filter((x) => x !== ''))];
          expect(lists.length).toBe(expected.length === 0 ? 0 : 1);
          if (expected.length > 0) expect(lists[0]?.parameters?.userIds).toBe(expected.join(','));
        }
      }),
    );
  });

  it('rejects out-of-range rollouts for every input', () => {
    fc.assert(
      fc.property(
        flag,
        fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 101 }), fc.double({ noInteger: true })),
        (f, p) => {
          let error: unknown;
          try {
            withRollout(f, p);
          } catch (e) {
            error = e;
          }
          expect(isCutoverError(error) && error.code).toBe('FLAG_ROLLOUT_INVALID');
        },
      ),
    );
  });
});
