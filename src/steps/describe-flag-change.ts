import type { Flag, Strategy } from '../flags/model.js';

/** What one environment of a flag does, as the `flag` step reports it. */
export interface FlagEnvironmentState {
  /** The flag exists. */
  exists: boolean;
  /** The flag defines the environment. */
  defined: boolean;
  /** The environment is on (false when it does not exist or is not defined). */
  enabled: boolean;
  /** Rollout percentages of its active `flexibleRollout` strategies (usually one). */
  rollouts: number[];
  /** Users of its active `userWithId` strategies; undefined when it has none. */
  users: string[] | undefined;
  /** An unconstrained `default` strategy, or no strategy at all: on for everyone. */
  everyone: boolean;
  /** Other active strategies (constrained `default`, `remoteAddress`, …). */
  others: number;
}

function isActive(strategy: Strategy): boolean {
  return strategy.disabled !== true;
}

function isCatchAll(strategy: Strategy): boolean {
  return (
    strategy.name === 'default' &&
    (strategy.constraints ?? []).length === 0 &&
    (strategy.segments ?? []).length === 0
  );
}

/**
 * The state of `flag` in `env` (see {@link FlagEnvironmentState}); `flag`
 * null means the flag does not exist. Pure.
 */
export function flagEnvironmentState(flag: Flag | null, env: string): FlagEnvironmentState {
  const definition = flag?.environments[env];
  if (flag === null || definition === undefined) {
    return {
      exists: flag !== null,
      defined: false,
      enabled: false,
      rollouts: [],
      users: undefined,
      everyone: false,
      others: 0,
    };
  }
  const active = definition.strategies.filter(isActive);
  const rollouts = active
    .filter((s) => s.name === 'flexibleRollout')
    .map((s) => Number(s.parameters?.rollout ?? 100));
  const userStrategies = active.filter((s) => s.name === 'userWithId');
  const users =
    userStrategies.length === 0
      ? undefined
      : userStrategies.flatMap((s) =>
          String(s.parameters?.userIds ?? '')
            .split(',')
            .map((id) => id.trim())
            .filter((id) => id !== ''),
        );
  const everyone = definition.strategies.length === 0 || active.some(isCatchAll);
  const others = active.filter(
    (s) => s.name !== 'flexibleRollout' && s.name !== 'userWithId' && !isCatchAll(s),
  ).length;
  return {
    exists: true,
    defined: true,
    enabled: definition.enabled,
    rollouts,
    users,
    everyone,
    others,
  };
}

function rolloutText(rollouts: number[]): string {
  return rollouts.length === 0 ? 'none' : `${rollouts.join('%/')}%`;
}

function usersText(users: string[] | undefined): string {
  if (users === undefined || users.length === 0) return 'none';
  const shown = users.slice(0, 3).join(', ');
  return users.length > 3 ? `${shown} +${users.length - 3} more` : shown;
}

/**
 * One line for a state: `does not exist`, `not defined`, or e.g.
 * `on, rollout 5%, users alice, bob`, `off, rollout 50%`, `on for everyone`.
 */
export function formatFlagEnvironmentState(state: FlagEnvironmentState): string {
  if (!state.exists) return 'does not exist';
  if (!state.defined) return 'not defined';
  const parts = [state.enabled ? 'on' : 'off'];
  if (state.everyone && state.enabled) parts[0] = 'on for everyone';
  if (state.rollouts.length > 0) parts.push(`rollout ${rolloutText(state.rollouts)}`);
  if (state.users !== undefined) parts.push(`users ${usersText(state.users)}`);
  if (state.others > 0)
    parts.push(`${state.others} other strateg${state.others === 1 ? 'y' : 'ies'}`);
  if (
    !state.everyone &&
    state.rollouts.length === 0 &&
    state.users === undefined &&
    state.others === 0
  )
    parts.push('no strategy');
  return parts.join(', ');
}

/**
 * What a change does to one environment, in the field's terms:
 * `rollout 5% → 50%`, `off → on`, `users alice → alice, bob`,
 * `new flag: on, rollout 5%`, `new environment: on, rollout 5%`,
 * `flag deleted`, or `no change (on, rollout 50%)`. Pure.
 */
export function describeFlagChange(before: Flag | null, after: Flag | null, env: string): string {
  const a = flagEnvironmentState(before, env);
  const b = flagEnvironmentState(after, env);
  if (!b.exists) return a.exists ? 'flag deleted' : 'no change (does not exist)';
  if (!a.exists) return `new flag: ${formatFlagEnvironmentState(b)}`;
  if (!b.defined) return a.defined ? 'environment removed' : 'no change (not defined)';
  if (!a.defined) return `new environment: ${formatFlagEnvironmentState(b)}`;
  const parts: string[] = [];
  if (a.enabled !== b.enabled)
    parts.push(`${a.enabled ? 'on' : 'off'} → ${b.enabled ? 'on' : 'off'}`);
  if (rolloutText(a.rollouts) !== rolloutText(b.rollouts)) {
    parts.push(`rollout ${rolloutText(a.rollouts)} → ${rolloutText(b.rollouts)}`);
  }
  if (JSON.stringify(a.users) !== JSON.stringify(b.users)) {
    parts.push(`users ${usersText(a.users)} → ${usersText(b.users)}`);
  }
  if (a.everyone !== b.everyone && (a.enabled || b.enabled)) {
    parts.push(b.everyone ? 'now on for everyone' : 'no longer on for everyone');
  }
  if (a.others !== b.others) parts.push(`other strategies ${a.others} → ${b.others}`);
  return parts.length === 0 ? `no change (${formatFlagEnvironmentState(b)})` : parts.join(', ');
}
