import type {
  ClientFeaturesResponse,
  Constraint,
  FeatureDefinition,
  Flag,
  Segment,
  Strategy,
  Variant,
} from './model.js';

/**
 * Resolves `weightType: variable` weights the way the Unleash admin UI does:
 * `fix` variants keep their weight; the rest of `total` is shared by the
 * variable variants in order, each getting `round(remaining / variablesLeft)`
 * (never below 0), so the weights add up to exactly `total` when at least one
 * variant is variable. Returns new objects with `weightType` set.
 * @param total weight total, default 1000 (= 100 %)
 */
export function resolveVariantWeights(variants: readonly Variant[], total = 1000): Variant[] {
  let remaining = total;
  let variable = 0;
  for (const v of variants) {
    if (v.weightType === 'fix') remaining -= v.weight;
    else variable++;
  }
  return variants.map((v) => {
    if (v.weightType === 'fix') return { ...v, weightType: 'fix' };
    const weight = Math.max(Math.round(remaining / variable), 0);
    remaining -= weight;
    variable--;
    return { ...v, weight, weightType: 'variable' };
  });
}

function constraintForClients(c: Constraint): Constraint {
  return {
    contextName: c.contextName,
    operator: c.operator,
    values: c.values ?? [],
    ...(c.value === undefined ? {} : { value: c.value }),
    inverted: c.inverted ?? false,
    caseInsensitive: c.caseInsensitive ?? false,
  };
}

function strategyForClients(s: Strategy, key: string): Strategy {
  const parameters: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.parameters ?? {})) parameters[k] = String(v);
  if (s.name === 'flexibleRollout') {
    parameters.groupId ??= key;
    parameters.stickiness ??= 'default';
  }
  const out: Strategy = {
    name: s.name,
    ...(s.title === undefined ? {} : { title: s.title }),
    parameters,
    constraints: (s.constraints ?? []).map(constraintForClients),
  };
  if (s.segments !== undefined && s.segments.length > 0) out.segments = [...s.segments];
  if (s.variants !== undefined && s.variants.length > 0) {
    // Strategy variants hash with the strategy's stickiness unless they name their own.
    const stickiness = parameters.stickiness ?? 'default';
    out.variants = resolveVariantWeights(s.variants).map((v) => ({
      ...v,
      stickiness: v.stickiness ?? stickiness,
    }));
  } else {
    out.variants = [];
  }
  return out;
}

/**
 * The Unleash client-API form of `flag` in `environment`: disabled
 * strategies are left out (when every strategy is disabled the feature is
 * served disabled, as Unleash does); parameters become strings;
 * `flexibleRollout` gets `groupId` = flag key and `stickiness` = `default`
 * when missing; constraints get explicit `values`/`inverted`/`caseInsensitive`;
 * variable variant weights are resolved ({@link resolveVariantWeights});
 * feature variants get `stickiness: default` when missing; tags become
 * `[{ type, value }]`. A flag with no definition for `environment` is served
 * disabled with no strategies.
 */
export function flagToFeature(flag: Flag, environment: string): FeatureDefinition {
  const env = Object.hasOwn(flag.environments, environment)
    ? flag.environments[environment]
    : undefined;
  const strategies = (env?.strategies ?? []).filter((s) => s.disabled !== true);
  const allDisabled = (env?.strategies.length ?? 0) > 0 && strategies.length === 0;
  const feature: FeatureDefinition = {
    name: flag.key,
    type: flag.type ?? 'release',
    ...(flag.description === undefined ? {} : { description: flag.description }),
    enabled: (env?.enabled ?? false) && !allDisabled,
    stale: false,
    impressionData: flag.impressionData ?? false,
    project: 'default',
    strategies: strategies.map((s) => strategyForClients(s, flag.key)),
    variants: resolveVariantWeights(env?.variants ?? []).map((v) => ({
      ...v,
      stickiness: v.stickiness ?? 'default',
    })),
  };
  if (flag.dependencies !== undefined && flag.dependencies.length > 0) {
    feature.dependencies = flag.dependencies.map((d) => ({ ...d }));
  }
  if (flag.tags !== undefined) {
    feature.tags = Object.entries(flag.tags).map(([type, value]) => ({ type, value }));
  }
  return feature;
}

/**
 * The `/api/client/features` body (version 2) for `flags` in `environment`,
 * with `segments` when given (send the segments the strategies reference;
 * a strategy that references a missing segment never matches).
 */
export function flagsToClientFeatures(
  flags: readonly Flag[],
  environment: string,
  segments?: readonly Segment[],
): ClientFeaturesResponse {
  const body: ClientFeaturesResponse = {
    version: 2,
    features: flags.map((f) => flagToFeature(f, environment)),
  };
  if (segments !== undefined) {
    body.segments = segments.map((s) => ({
      id: s.id,
      ...(s.name === undefined ? {} : { name: s.name }),
      constraints: s.constraints.map(constraintForClients),
    }));
  }
  return body;
}
