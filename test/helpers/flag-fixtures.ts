import type { Flag } from '../../src/flags/model.js';

/**
 * A flag `key` tagged `category: migration`, on in `production` for 10 % of
 * users (flexibleRollout, default stickiness, group = key) and on for
 * everyone in `staging`. `extra` replaces top-level fields (e.g. `tags`).
 */
export function sampleFlag(key: string, extra: Partial<Flag> = {}): Flag {
  return {
    key,
    description: `flag ${key}`,
    tags: { category: 'migration' },
    environments: {
      production: {
        enabled: true,
        strategies: [
          {
            name: 'flexibleRollout',
            parameters: { rollout: '10', stickiness: 'default', groupId: key },
            constraints: [],
          },
        ],
      },
      staging: {
        enabled: true,
        strategies: [{ name: 'default', parameters: {}, constraints: [] }],
      },
    },
    ...extra,
  };
}
