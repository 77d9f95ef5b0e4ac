import { CutoverError } from '../errors/index.js';
import type { ClientFeaturesResponse, FeatureDefinition, Strategy } from '../flags/model.js';

/** Prefix of the environment variables that define or override flags. */
export const FLAG_ENV_PREFIX = 'CUTOVER_FLAG_';

/** Suffix of the variable that lists the user ids a flag is enabled for. */
export const FLAG_ENV_USERS_SUFFIX = '_USERS';

/**
 * One flag defined by environment variables (see {@link parseFlagEnv}).
 *
 * - `state`: `true` → on for everyone; `false` → kill switch (off for everyone,
 *   the user list included); a number → rollout percentage 0..100 (flexibleRollout,
 *   stickiness `default`, groupId = the flag key); `undefined` → only `users`.
 * - `users`: user ids (`userId` context field) the flag is on for, whatever the percentage.
 */
export interface EnvFlagOverride {
  /** Flag key, e.g. `new-dashboard`. */
  key: string;
  state: boolean | number | undefined;
  users: string[] | undefined;
  /** The variables it was read from, e.g. `['CUTOVER_FLAG_NEW_DASHBOARD']`. */
  variables: string[];
}

/** Result of {@link parseFlagEnv}: every override, and every problem found (never thrown). */
export interface ParsedFlagEnv {
  /** Overrides by the normalized variable name (`NEW_DASHBOARD`). */
  overrides: Map<string, EnvFlagOverride>;
  /** One `FLAG_ENV_INVALID` error per bad variable; the variable is ignored. */
  errors: CutoverError[];
}

/**
 * The environment-variable name part for a flag key: upper case, every
 * character other than `A-Z` and `0-9` replaced by `_` (`new-dashboard` →
 * `NEW_DASHBOARD`, so the variable is `CUTOVER_FLAG_NEW_DASHBOARD`).
 */
export function flagEnvName(key: string): string {
  return key.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * The flag key a variable name part stands for when no known flag matches it:
 * lower case, `_` → `-` (`NEW_DASHBOARD` → `new-dashboard`).
 */
export function flagKeyFromEnvName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

const NAME_PATTERN = /^[A-Z0-9_]+$/;

/**
 * Reads flag definitions from environment variables, for deployments with no
 * server (or to override it):
 *
 * - `CUTOVER_FLAG_<NAME>=true|false|<percent>` — `true`/`false` (any case) or an
 *   integer 0..100, optionally followed by `%`.
 * - `CUTOVER_FLAG_<NAME>_USERS=a,b,c` — comma-separated user ids (blanks trimmed,
 *   empty entries dropped). A variable ending in `_USERS` is always a user list.
 *
 * `<NAME>` is the flag key through {@link flagEnvName}. Empty variables are
 * ignored (unset). Pure: never throws, reads only `env`.
 */
export function parseFlagEnv(env: Readonly<Record<string, string | undefined>>): ParsedFlagEnv {
  const overrides = new Map<string, EnvFlagOverride>();
  const errors: CutoverError[] = [];
  const entry = (name: string): EnvFlagOverride => {
    let found = overrides.get(name);
    if (found === undefined) {
      found = { key: flagKeyFromEnvName(name), state: undefined, users: undefined, variables: [] };
      overrides.set(name, found);
    }
    return found;
  };
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(FLAG_ENV_PREFIX)) continue;
    const raw = env[variable];
    if (raw === undefined || raw.trim() === '') continue;
    const rest = variable.slice(FLAG_ENV_PREFIX.length);
    const isUsers = rest.endsWith(FLAG_ENV_USERS_SUFFIX);
    const name = isUsers ? rest.slice(0, -FLAG_ENV_USERS_SUFFIX.length) : rest;
    if (name === '' || !NAME_PATTERN.test(name)) {
      errors.push(
        new CutoverError(
          'FLAG_ENV_INVALID',
          'config',
          `Environment variable ${variable} does not name a flag.`,
          {
            location: variable,
            hint: `Use ${FLAG_ENV_PREFIX}<KEY> with the flag key in upper case and "-" as "_", e.g. ${FLAG_ENV_PREFIX}NEW_DASHBOARD.`,
          },
        ),
      );
      continue;
    }
    if (isUsers) {
      const users = raw
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== '');
      const target = entry(name);
      target.users = users;
      target.variables.push(variable);
      continue;
    }
    const state = parseState(raw.trim());
    if (state === undefined) {
      errors.push(
        new CutoverError(
          'FLAG_ENV_INVALID',
          'config',
          `Environment variable ${variable} has the value "${raw}", which is not true, false or a percentage.`,
          {
            location: variable,
            hint: 'Set it to true, false, or an integer percentage from 0 to 100 (e.g. 25 or 25%).',
          },
        ),
      );
      continue;
    }
    const target = entry(name);
    target.state = state;
    target.variables.push(variable);
  }
  return { overrides, errors };
}

function parseState(value: string): boolean | number | undefined {
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  const match = /^(\d{1,3})%?$/.exec(value);
  if (match?.[1] === undefined) return undefined;
  const percent = Number(match[1]);
  return percent <= 100 ? percent : undefined;
}

/**
 * The definition an override stands for. Fields other than `enabled` and
 * `strategies` (feature variants, description, type) are kept from `base`
 * when the flag exists; dependencies are dropped, so the variable alone
 * decides whether the flag is on.
 */
export function overrideToFeature(
  override: EnvFlagOverride,
  base: FeatureDefinition | undefined,
): FeatureDefinition {
  const strategies: Strategy[] = [];
  if (override.state !== false && override.users !== undefined && override.users.length > 0) {
    strategies.push({ name: 'userWithId', parameters: { userIds: override.users.join(',') } });
  }
  if (override.state === true) {
    strategies.push({ name: 'default', parameters: {} });
  } else if (typeof override.state === 'number') {
    strategies.push({
      name: 'flexibleRollout',
      parameters: { rollout: String(override.state), stickiness: 'default', groupId: override.key },
    });
  }
  const { dependencies: _dropped, ...rest } = base ?? { name: override.key, strategies: [] };
  return {
    ...rest,
    name: base?.name ?? override.key,
    enabled: override.state !== false && strategies.length > 0,
    strategies,
  };
}

/**
 * Applies environment overrides to a features payload: a variable overrides
 * the feature whose key maps to its name ({@link flagEnvName}); a variable
 * matching no feature adds one (key from {@link flagKeyFromEnvName}). Returns
 * a new payload; `features` is not modified. Precedence: environment > server
 * (or bootstrap).
 */
export function applyFlagEnv(
  features: ClientFeaturesResponse,
  overrides: ReadonlyMap<string, EnvFlagOverride>,
): ClientFeaturesResponse {
  if (overrides.size === 0) return features;
  const used = new Set<string>();
  const out: FeatureDefinition[] = features.features.map((feature) => {
    const name = flagEnvName(feature.name);
    const override = overrides.get(name);
    if (override === undefined) return feature;
    used.add(name);
    return overrideToFeature(override, feature);
  });
  for (const [name, override] of overrides) {
    if (!used.has(name)) out.push(overrideToFeature(override, undefined));
  }
  return { ...features, features: out };
}
