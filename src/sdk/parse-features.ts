import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import type { ClientFeaturesResponse } from '../flags/model.js';

const featureSchema = z.looseObject({
  name: z.string().min(1),
  enabled: z.boolean(),
  strategies: z.array(z.looseObject({ name: z.string() })).default([]),
  variants: z.array(z.looseObject({ name: z.string(), weight: z.number() })).nullish(),
  dependencies: z.array(z.looseObject({ feature: z.string() })).nullish(),
});

const responseSchema = z.looseObject({
  version: z.number().int().default(2),
  features: z.array(featureSchema),
  segments: z
    .array(z.looseObject({ id: z.number(), constraints: z.array(z.looseObject({})).default([]) }))
    .nullish(),
});

/**
 * Parses an untrusted `/api/client/features` payload (from the server, the
 * stream, or a bootstrap file) into a {@link ClientFeaturesResponse}. Checks
 * the structure the client relies on (feature names, `enabled`, strategy and
 * variant lists, segment ids) and keeps every other field as sent: details
 * such as unknown operators are left to the evaluator, which fails closed.
 *
 * @param value - the parsed JSON
 * @param source - where it came from (URL or file path), used in the message
 * @throws CutoverError `FLAG_PAYLOAD_INVALID` (config) listing the JSON path of every problem
 */
export function parseClientFeatures(value: unknown, source: string): ClientFeaturesResponse {
  const result = responseSchema.safeParse(value);
  if (result.success) {
    const data = result.data;
    return {
      ...data,
      features: data.features.map((feature) => ({
        ...feature,
        variants: feature.variants ?? undefined,
        dependencies: feature.dependencies ?? undefined,
      })),
      segments: data.segments ?? undefined,
    } as ClientFeaturesResponse;
  }
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length === 0 ? '$' : '$.' + issue.path.join('.')}: ${issue.message}`,
  );
  return throwInvalid(source, problems);
}

function throwInvalid(source: string, problems: string[]): never {
  throw new CutoverError(
    'FLAG_PAYLOAD_INVALID',
    'config',
    `The flag payload from ${source} is not a valid client features response: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}.`,
    {
      location: source,
      hint: 'Use the JSON served by GET /api/client/features ({ "version", "features": [...] }).',
      details: { problems },
    },
  );
}
