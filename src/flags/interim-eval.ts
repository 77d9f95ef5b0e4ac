// INTERIM: stands in for flags-eval's parseFlag / flagToFeature / flagsToClientFeatures
// until that branch is merged; deleted then.
import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import type { ClientFeaturesResponse, FeatureDefinition, Flag } from './model.js';

const strategy = z.object({
  name: z.string().min(1),
  parameters: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  constraints: z
    .array(z.object({ contextName: z.string(), operator: z.string() }).passthrough())
    .optional(),
  segments: z.array(z.number()).optional(),
  disabled: z.boolean().nullable().optional(),
});
const flagSchema = z.strictObject({
  key: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/),
  description: z.string().optional(),
  owner: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  type: z.string().optional(),
  impressionData: z.boolean().optional(),
  environments: z.record(
    z.string(),
    z.strictObject({
      enabled: z.boolean(),
      strategies: z.array(strategy),
      variants: z.array(z.any()).optional(),
    }),
  ),
});

export function parseFlag(input: unknown): Flag {
  const result = flagSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({
    path: i.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, ''),
    message: i.message,
  }));
  throw new CutoverError('FLAG_INVALID', 'config', 'Invalid flag definition.', {
    location: issues[0]?.path,
    details: { issues },
  });
}

export function flagToFeature(flag: Flag, env: string): FeatureDefinition | undefined {
  const e = flag.environments[env];
  if (e === undefined) return undefined;
  return {
    name: flag.key,
    enabled: e.enabled,
    strategies: e.strategies,
    ...(e.variants === undefined ? {} : { variants: e.variants }),
    ...(flag.description === undefined ? {} : { description: flag.description }),
  };
}

export function flagsToClientFeatures(flags: Flag[], env: string): ClientFeaturesResponse {
  return {
    version: 2,
    features: flags.flatMap((f) => {
      const x = flagToFeature(f, env);
      return x === undefined ? [] : [x];
    }),
  };
}
