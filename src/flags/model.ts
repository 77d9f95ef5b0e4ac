/**
 * The flag model: Unleash's client feature format (the `/api/client/features`
 * payload of the Unleash client specification, v2), plus cutover's own
 * metadata (description, owner, tags, per-environment definitions).
 * Written first so the evaluator, the store, the server and the SDK share it.
 */

/** A constraint on a context field (Unleash "strategy constraints"). */
export interface Constraint {
  /** Context field: `userId`, `sessionId`, `remoteAddress`, `environment`, `appName`, `currentTime`, or a `properties` key. */
  contextName: string;
  /** IN, NOT_IN, STR_CONTAINS, STR_STARTS_WITH, STR_ENDS_WITH, NUM_EQ, NUM_GT, NUM_GTE, NUM_LT, NUM_LTE, DATE_AFTER, DATE_BEFORE, SEMVER_EQ, SEMVER_GT, SEMVER_LT, REGEX, IN_CIDR — unknown operators fail closed. */
  operator: string;
  /** Values for list operators. */
  values?: string[];
  /** Value for single-value operators. */
  value?: string;
  /** Negates the result. Default false. */
  inverted?: boolean;
  /** Case-insensitive string comparison. Default false. */
  caseInsensitive?: boolean;
}

/** A variant payload. */
export interface VariantPayload {
  type: 'string' | 'json' | 'csv' | 'number';
  value: string;
}

/** A feature variant (weights out of 1000). */
export interface Variant {
  name: string;
  /** Weight out of the total (Unleash: 1000 = 100%). */
  weight: number;
  /** `variable` weights share what `fix` ones leave. Default `variable`. */
  weightType?: 'variable' | 'fix';
  /** Context field used to hash, or `default`. Default `default`. */
  stickiness?: string;
  payload?: VariantPayload;
  /** Context values that force this variant. */
  overrides?: { contextName: string; values: string[] }[];
}

/** An activation strategy. */
export interface Strategy {
  /** `default`, `userWithId`, `gradualRolloutUserId`, `gradualRolloutSessionId`, `gradualRolloutRandom`, `flexibleRollout`, `remoteAddress`, `applicationHostname`; unknown names fail closed. */
  name: string;
  /** Optional human title (Unleash `title`). */
  title?: string;
  /** String parameters, as Unleash sends them (`rollout`, `stickiness`, `groupId`, `userIds`, `IPs`, `hostNames`, …). */
  parameters?: Record<string, string | number>;
  constraints?: Constraint[];
  /** Ids of segments whose constraints must all hold. */
  segments?: number[];
  /** Strategy variants (take precedence over feature variants). */
  variants?: Variant[];
  /** A disabled strategy is skipped. */
  disabled?: boolean | null;
}

/** A dependency on a parent feature. */
export interface FeatureDependency {
  feature: string;
  /** Required parent state. Default true. */
  enabled?: boolean;
  /** When set, the parent must resolve to one of these variants. */
  variants?: string[];
}

/** A feature as the Unleash client API serves it (for one environment). */
export interface FeatureDefinition {
  name: string;
  type?: string;
  description?: string;
  enabled: boolean;
  stale?: boolean;
  impressionData?: boolean;
  project?: string;
  strategies: Strategy[];
  variants?: Variant[];
  dependencies?: FeatureDependency[];
  /** cutover extension: the flag's tags as Unleash `{ type, value }` pairs (ignored by Unleash SDKs). */
  tags?: { type: string; value: string }[];
}

/** A reusable set of constraints. */
export interface Segment {
  id: number;
  name?: string;
  description?: string;
  constraints: Constraint[];
}

/** The `/api/client/features` response body. */
export interface ClientFeaturesResponse {
  version: number;
  features: FeatureDefinition[];
  segments?: Segment[];
}

/** The evaluation context (Unleash context fields). */
export interface FlagContext {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  /** ISO date-time or Date; default: now. */
  currentTime?: string | Date;
  properties?: Record<string, string | number | boolean | undefined>;
}

/** One environment's definition of a cutover flag. */
export interface FlagEnvironment {
  enabled: boolean;
  strategies: Strategy[];
  variants?: Variant[];
}

/** A cutover flag: Unleash feature fields plus metadata and per-environment definitions. */
export interface Flag {
  /** Unique key, e.g. `new-dashboard`. */
  key: string;
  description?: string;
  owner?: string;
  /** Tags as `type: value` pairs, e.g. `{ category: 'migration' }`. */
  tags?: Record<string, string>;
  type?: string;
  dependencies?: FeatureDependency[];
  impressionData?: boolean;
  /** Definition per environment (`development`, `staging`, `production`, or any name). */
  environments: Record<string, FlagEnvironment>;
}
