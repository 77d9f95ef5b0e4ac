import { CutoverError } from '../errors/index.js';
import type { Flag, FlagEnvironment, Strategy } from './model.js';

/** Environment names: a letter or digit, then letters, digits, `_`, `.` or `-` (at most 100). */
const ENVIRONMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * Checks an environment name (`production`, `staging`, `eu-west.1`, …).
 *
 * @throws CutoverError `FLAG_ENVIRONMENT_INVALID` (config).
 */
export function parseEnvironmentName(value: string, where = 'environment'): string {
  if (!ENVIRONMENT_PATTERN.test(value)) {
    throw new CutoverError(
      'FLAG_ENVIRONMENT_INVALID',
      'config',
      `The environment name "${value}" is invalid.`,
      {
        location: where,
        hint: 'Use letters, digits, "_", "." and "-", starting with a letter or digit (e.g. production).',
      },
    );
  }
  return value;
}

/**
 * Checks a rollout percentage: an integer from 0 to 100 (Unleash's
 * `flexibleRollout` takes whole percents).
 *
 * @throws CutoverError `FLAG_ROLLOUT_INVALID` (config).
 */
export function parseRolloutPercent(value: unknown, where = 'rollout'): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100) {
    throw new CutoverError(
      'FLAG_ROLLOUT_INVALID',
      'config',
      `The rollout percentage ${JSON.stringify(value)} is invalid.`,
      { location: where, hint: 'Give a whole number from 0 to 100, e.g. 20.' },
    );
  }
  return n;
}

/** A tag filter: flags whose `tags[name]` equals `value`. */
export interface TagFilter {
  name: string;
  value: string;
}

/**
 * Parses `name=value` or `name:value` (e.g. `category=migration`) into a {@link TagFilter}.
 *
 * @throws CutoverError `FLAG_TAG_INVALID` (config).
 */
export function parseTagFilter(value: string, where = 'tag'): TagFilter {
  const match = /^([^=:\s]+)\s*[=:]\s*(.+)$/.exec(value.trim());
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new CutoverError('FLAG_TAG_INVALID', 'config', `The tag "${value}" is invalid.`, {
      location: where,
      hint: 'Write a tag as name=value, e.g. category=migration.',
    });
  }
  return { name: match[1], value: match[2] };
}

/** True when `flag` carries the tag. */
export function flagHasTag(flag: Flag, tag: TagFilter): boolean {
  return flag.tags?.[tag.name] === tag.value;
}

/**
 * The environments a change addresses: `[env]` when given, else every
 * environment the flag defines.
 *
 * @throws CutoverError `FLAG_ENVIRONMENT_REQUIRED` (config) when no `env` is
 *   given and the flag defines no environment.
 */
export function targetEnvironments(flag: Flag, env: string | undefined): string[] {
  if (env !== undefined) return [parseEnvironmentName(env)];
  const names = Object.keys(flag.environments);
  if (names.length === 0) {
    throw new CutoverError(
      'FLAG_ENVIRONMENT_REQUIRED',
      'config',
      `Flag "${flag.key}" defines no environment, so the change needs one.`,
      { location: flag.key, hint: 'Name the environment (--env production, or `env` in the API).' },
    );
  }
  return names;
}

function isCatchAll(strategy: Strategy): boolean {
  return (
    strategy.name === 'default' &&
    strategy.disabled !== true &&
    (strategy.constraints ?? []).length === 0 &&
    (strategy.segments ?? []).length === 0
  );
}

function withEnvironment(
  flag: Flag,
  env: string,
  update: (current: FlagEnvironment | undefined) => FlagEnvironment,
): Flag {
  return {
    ...flag,
    environments: { ...flag.environments, [env]: update(flag.environments[env]) },
  };
}

/**
 * Sets the rollout percentage of `flag` in `env` (or in every environment it
 * defines when `env` is undefined). Pure; returns a new flag.
 *
 * Rule, per environment:
 * - every `flexibleRollout` strategy gets `rollout = percent` (its
 *   constraints, segments, stickiness and groupId are kept; a value already
 *   equal to `percent` is left untouched, so re-applying is a no-op);
 * - with no `flexibleRollout` strategy, unconstrained `default` strategies
 *   (which would enable everyone) are removed and a `flexibleRollout` with
 *   `{ rollout, stickiness: 'default', groupId: <key> }` is appended; other
 *   strategies (e.g. `userWithId` lists) stay, and keep enabling their users;
 * - `enabled` is not changed, except that an environment the flag did not
 *   define is created enabled.
 *
 * @throws CutoverError `FLAG_ROLLOUT_INVALID`, `FLAG_ENVIRONMENT_INVALID`, `FLAG_ENVIRONMENT_REQUIRED` (config).
 */
export function withRollout(flag: Flag, percent: number, env?: string): Flag {
  const rollout = parseRolloutPercent(percent);
  let next = flag;
  for (const name of targetEnvironments(flag, env)) {
    next = withEnvironment(next, name, (current) => {
      const definition = current ?? { enabled: true, strategies: [] };
      const hasFlexible = definition.strategies.some((s) => s.name === 'flexibleRollout');
      if (hasFlexible) {
        return {
          ...definition,
          strategies: definition.strategies.map((s) =>
            s.name !== 'flexibleRollout' || Number(s.parameters?.rollout) === rollout
              ? s
              : { ...s, parameters: { ...s.parameters, rollout: String(rollout) } },
          ),
        };
      }
      return {
        ...definition,
        strategies: [
          ...definition.strategies.filter((s) => !isCatchAll(s)),
          {
            name: 'flexibleRollout',
            parameters: { rollout: String(rollout), stickiness: 'default', groupId: flag.key },
            constraints: [],
          },
        ],
      };
    });
  }
  return next;
}

/**
 * Turns `flag` on or off (the kill switch) in `env`, or in every environment
 * it defines when `env` is undefined. Pure; returns a new flag. Enabling an
 * environment the flag did not define creates it with one `default` strategy
 * (on for everyone); disabling one creates it disabled with no strategy.
 *
 * @throws CutoverError `FLAG_ENVIRONMENT_INVALID`, `FLAG_ENVIRONMENT_REQUIRED` (config).
 */
export function withEnabled(flag: Flag, enabled: boolean, env?: string): Flag {
  let next = flag;
  for (const name of targetEnvironments(flag, env)) {
    next = withEnvironment(next, name, (current) =>
      current === undefined
        ? {
            enabled,
            strategies: enabled ? [{ name: 'default', parameters: {}, constraints: [] }] : [],
          }
        : current.enabled === enabled
          ? current
          : { ...current, enabled },
    );
  }
  return next;
}

/**
 * Sets the users always enabled by `flag` in `env` (or every environment it
 * defines): the `userWithId` strategy gets `userIds` = the list joined by
 * commas (the first such strategy is updated, others are removed; one is
 * appended when missing); an empty list removes the `userWithId` strategies.
 * Ids are trimmed; empty ids and duplicates are dropped; commas are not
 * allowed in an id. Pure; `enabled` is not changed, except that an
 * environment the flag did not define is created enabled.
 *
 * @throws CutoverError `FLAG_USERS_INVALID` (config) for an id with a comma,
 *   plus those of {@link targetEnvironments}.
 */
export function withUsers(flag: Flag, users: readonly string[], env?: string): Flag {
  const ids: string[] = [];
  for (const raw of users) {
    const id = raw.trim();
    if (id.includes(',')) {
      throw new CutoverError(
        'FLAG_USERS_INVALID',
        'config',
        `The user id "${raw}" contains a comma.`,
        {
          location: 'users',
          hint: 'Give user ids as a list; Unleash stores them comma-separated, so an id cannot contain one.',
        },
      );
    }
    if (id !== '' && !ids.includes(id)) ids.push(id);
  }
  let next = flag;
  for (const name of targetEnvironments(flag, env)) {
    next = withEnvironment(next, name, (current) => {
      const definition = current ?? { enabled: true, strategies: [] };
      const first = definition.strategies.findIndex((s) => s.name === 'userWithId');
      const others = definition.strategies.filter((s) => s.name !== 'userWithId');
      if (ids.length === 0) return { ...definition, strategies: others };
      const userIds = ids.join(',');
      const existing = first >= 0 ? definition.strategies[first] : undefined;
      if (existing !== undefined) {
        const strategies: Strategy[] = [];
        definition.strategies.forEach((s, i) => {
          if (s.name !== 'userWithId') strategies.push(s);
          else if (i === first) {
            strategies.push(
              String(s.parameters?.userIds ?? '') === userIds
                ? s
                : { ...s, parameters: { ...s.parameters, userIds } },
            );
          }
        });
        return { ...definition, strategies };
      }
      return {
        ...definition,
        strategies: [...others, { name: 'userWithId', parameters: { userIds }, constraints: [] }],
      };
    });
  }
  return next;
}

/** A combined change of one environment (or every environment) of a flag; see {@link withPatch}. */
export interface FlagPatch {
  /** Rollout percentage 0..100 ({@link withRollout}). */
  rollout?: number | undefined;
  /** On/off ({@link withEnabled}). */
  enabled?: boolean | undefined;
  /** Users always enabled ({@link withUsers}). */
  users?: readonly string[] | undefined;
}

/**
 * The fields of `patch` that are set, as a plain object (`users` copied): the
 * body of `PATCH /api/admin/flags/<key>` and the audit details of a patch.
 */
export function patchFields(patch: FlagPatch): {
  rollout?: number;
  enabled?: boolean;
  users?: string[];
} {
  return {
    ...(patch.rollout === undefined ? {} : { rollout: patch.rollout }),
    ...(patch.enabled === undefined ? {} : { enabled: patch.enabled }),
    ...(patch.users === undefined ? {} : { users: [...patch.users] }),
  };
}

/**
 * Applies `rollout`, then `users`, then `enabled` (each when given) to `flag`
 * in `env` (or every environment it defines). Pure.
 *
 * @throws CutoverError `FLAG_PATCH_EMPTY` (config) when none is given, plus
 *   those of the three functions.
 */
export function withPatch(flag: Flag, patch: FlagPatch, env?: string): Flag {
  if (patch.rollout === undefined && patch.enabled === undefined && patch.users === undefined) {
    throw new CutoverError('FLAG_PATCH_EMPTY', 'config', 'The change sets nothing.', {
      hint: 'Give at least one of rollout, enabled, users.',
    });
  }
  let next = flag;
  if (patch.rollout !== undefined) next = withRollout(next, patch.rollout, env);
  if (patch.users !== undefined) next = withUsers(next, patch.users, env);
  if (patch.enabled !== undefined) next = withEnabled(next, patch.enabled, env);
  return next;
}
