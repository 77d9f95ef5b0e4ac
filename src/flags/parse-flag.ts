import SemVer from 'semver/classes/semver.js';
import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import { CONSTRAINT_OPERATORS, LIST_OPERATORS, compileRe2 } from './compile-constraint.js';
import { parseIPv4Range, parseIPv6Range } from './ip-range.js';
import type { Constraint, Flag, Segment, Strategy, Variant } from './model.js';

/** The strategies cutover evaluates (the Unleash built-in strategies). */
export const STRATEGY_NAMES = [
  'default',
  'userWithId',
  'gradualRolloutUserId',
  'gradualRolloutSessionId',
  'gradualRolloutRandom',
  'flexibleRollout',
  'remoteAddress',
  'applicationHostname',
] as const;

/** Unleash feature types. */
export const FLAG_TYPES = [
  'release',
  'experiment',
  'operational',
  'kill-switch',
  'permission',
] as const;

/** Flag keys: URL-safe, usable as an environment variable suffix. */
export const FLAG_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$/;
const ENVIRONMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const TAG_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;

/** Total variant weight (Unleash: 1000 = 100 %). */
export const VARIANT_WEIGHT_TOTAL = 1000;

const flagKey = z
  .string()
  .regex(
    FLAG_KEY_PATTERN,
    'must be 1-100 characters: letters, digits, ".", "_", "~", "-", starting with a letter or digit',
  );

function numeric(value: string | number): number {
  return typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
}

function isValidIp(value: string): boolean {
  return parseIPv4Range(value) !== null || parseIPv6Range(value) !== null;
}

/** A strategy constraint; operator-specific checks on `value` / `values`. */
export const constraintSchema = z
  .strictObject({
    contextName: z.string().min(1, 'must not be empty'),
    operator: z.enum(CONSTRAINT_OPERATORS, {
      error: () => `must be one of ${CONSTRAINT_OPERATORS.join(', ')}`,
    }),
    values: z.array(z.string()).optional(),
    value: z.string().optional(),
    inverted: z.boolean().optional(),
    caseInsensitive: z.boolean().optional(),
  })
  .superRefine((c, ctx) => {
    if (LIST_OPERATORS.has(c.operator)) {
      if (c.values === undefined || c.values.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['values'],
          message: `${c.operator} needs a non-empty "values" list`,
        });
        return;
      }
      if (c.operator === 'IN_CIDR') {
        c.values.forEach((v, i) => {
          if (!isValidIp(v.trim())) {
            ctx.addIssue({
              code: 'custom',
              path: ['values', i],
              message: `"${v}" is not an IPv4/IPv6 address or CIDR range`,
            });
          }
        });
      }
      return;
    }
    if (c.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${c.operator} needs a "value"` });
      return;
    }
    const value = c.value;
    if (c.operator.startsWith('NUM_') && Number.isNaN(numeric(value))) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `"${value}" is not a number` });
    } else if (c.operator.startsWith('DATE_') && Number.isNaN(new Date(value).getTime())) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `"${value}" is not a date (use ISO 8601, e.g. 2025-01-31T00:00:00Z)`,
      });
    } else if (c.operator.startsWith('SEMVER_')) {
      try {
        new SemVer(value);
      } catch {
        ctx.addIssue({
          code: 'custom',
          path: ['value'],
          message: `"${value}" is not a semantic version (e.g. 1.2.3)`,
        });
      }
    } else if (c.operator === 'REGEX' && compileRe2(value, c.caseInsensitive === true) === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `"${value}" is not a valid RE2 regular expression (no lookaround or backreferences)`,
      });
    }
  });

/** A variant payload; `json` must parse, `number` must be numeric. */
export const variantPayloadSchema = z
  .strictObject({
    type: z.enum(['string', 'json', 'csv', 'number']),
    value: z.string(),
  })
  .superRefine((p, ctx) => {
    if (p.type === 'json') {
      try {
        JSON.parse(p.value);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['value'], message: 'is not valid JSON' });
      }
    } else if (p.type === 'number' && Number.isNaN(numeric(p.value))) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `"${p.value}" is not a number` });
    }
  });

/** One variant. `weight` (0..1000) is required for `weightType: fix`, computed for `variable`. */
export const variantSchema = z
  .strictObject({
    name: z.string().min(1, 'must not be empty'),
    weight: z.number().int('must be an integer').min(0).max(VARIANT_WEIGHT_TOTAL).default(0),
    weightType: z.enum(['variable', 'fix']).optional(),
    stickiness: z.string().min(1, 'must not be empty').optional(),
    payload: variantPayloadSchema.optional(),
    overrides: z
      .array(
        z.strictObject({
          contextName: z.string().min(1, 'must not be empty'),
          values: z.array(z.string()),
        }),
      )
      .optional(),
  })
  .superRefine((v, ctx) => {
    if (v.weightType === 'fix' && v.weight === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['weight'],
        message: 'a "fix" variant needs a weight (1..1000, out of 1000)',
      });
    }
  });

/** A variant list: unique names, fix weights ≤ 1000, one stickiness. */
export const variantsSchema = z.array(variantSchema).superRefine((variants, ctx) => {
  const seen = new Set<string>();
  let fixTotal = 0;
  let variable = 0;
  variants.forEach((v, i) => {
    if (seen.has(v.name)) {
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate variant "${v.name}"` });
    }
    seen.add(v.name);
    if (v.weightType === 'fix') fixTotal += v.weight;
    else variable++;
    const first = variants[0]?.stickiness ?? 'default';
    if (i > 0 && (v.stickiness ?? 'default') !== first) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'stickiness'],
        message: `all variants must use the same stickiness ("${first}")`,
      });
    }
  });
  if (variants.length === 0) return;
  if (fixTotal > VARIANT_WEIGHT_TOTAL) {
    ctx.addIssue({
      code: 'custom',
      path: [],
      message: `fix weights add up to ${fixTotal}, more than ${VARIANT_WEIGHT_TOTAL}`,
    });
  } else if (variable === 0 && fixTotal !== VARIANT_WEIGHT_TOTAL) {
    ctx.addIssue({
      code: 'custom',
      path: [],
      message: `fix weights add up to ${fixTotal}; without a variable variant they must add up to ${VARIANT_WEIGHT_TOTAL}`,
    });
  }
});

const percentParameter = (params: Record<string, string | number>, key: string): string | null => {
  const raw = params[key];
  if (raw === undefined) return `needs parameter "${key}" (0..100)`;
  const n = numeric(raw);
  if (Number.isNaN(n) || n < 0 || n > 100) return `"${String(raw)}" is not a percentage (0..100)`;
  return null;
};

/** An activation strategy with its parameters checked per strategy name. */
export const strategySchema = z
  .strictObject({
    name: z.enum(STRATEGY_NAMES, {
      error: () => `must be one of ${STRATEGY_NAMES.join(', ')}`,
    }),
    title: z.string().optional(),
    parameters: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    constraints: z.array(constraintSchema).optional(),
    segments: z.array(z.number().int()).optional(),
    variants: variantsSchema.optional(),
    disabled: z.boolean().nullable().optional(),
  })
  .superRefine((s, ctx) => {
    const params = s.parameters ?? {};
    const problem = (key: string, message: string) =>
      ctx.addIssue({
        code: 'custom',
        path: params[key] === undefined ? ['parameters'] : ['parameters', key],
        message,
      });
    const requireText = (key: string, what: string) => {
      const v = params[key];
      if (v === undefined || String(v).trim() === '')
        problem(key, `needs parameter "${key}" (${what})`);
    };
    switch (s.name) {
      case 'flexibleRollout': {
        const p = percentParameter(params, 'rollout');
        if (p !== null) problem('rollout', p);
        if (params.stickiness !== undefined && String(params.stickiness).trim() === '') {
          problem('stickiness', 'must not be empty');
        }
        break;
      }
      case 'gradualRolloutUserId':
      case 'gradualRolloutSessionId':
      case 'gradualRolloutRandom': {
        const p = percentParameter(params, 'percentage');
        if (p !== null) problem('percentage', p);
        break;
      }
      case 'userWithId':
        requireText('userIds', 'comma-separated user ids');
        break;
      case 'applicationHostname':
        requireText('hostNames', 'comma-separated host names');
        break;
      case 'remoteAddress': {
        requireText('IPs', 'comma-separated IPv4 addresses or CIDR ranges');
        const ips = params.IPs;
        if (ips !== undefined) {
          for (const ip of String(ips).split(/\s*,\s*/)) {
            if (ip !== '' && !isValidIp(ip)) {
              problem('IPs', `"${ip}" is not an IP address or CIDR range`);
            }
          }
        }
        break;
      }
      default:
        break;
    }
  });

/** One environment's definition of a flag. */
export const flagEnvironmentSchema = z.strictObject({
  enabled: z.boolean(),
  strategies: z.array(strategySchema).default([]),
  variants: variantsSchema.optional(),
});

/** A reusable segment (a named list of constraints). */
export const segmentSchema = z.strictObject({
  id: z.number().int().positive(),
  name: z.string().optional(),
  description: z.string().optional(),
  constraints: z.array(constraintSchema),
});

/**
 * A cutover flag definition: Unleash feature fields, metadata (description,
 * owner, tags) and a definition per environment. Unknown keys are rejected.
 */
export const flagSchema = z
  .strictObject({
    key: flagKey,
    description: z.string().optional(),
    owner: z.string().optional(),
    tags: z
      .record(
        z.string().regex(TAG_TYPE_PATTERN, 'tag types are 1-50 letters, digits, ".", "_", "-"'),
        z.string().min(1, 'must not be empty'),
      )
      .optional(),
    type: z.enum(FLAG_TYPES).optional(),
    dependencies: z
      .array(
        z.strictObject({
          feature: flagKey,
          enabled: z.boolean().optional(),
          variants: z.array(z.string()).optional(),
        }),
      )
      .optional(),
    impressionData: z.boolean().optional(),
    environments: z.record(
      z.string().regex(ENVIRONMENT_PATTERN, 'environment names are letters, digits, ".", "_", "-"'),
      flagEnvironmentSchema,
    ),
  })
  .superRefine((f, ctx) => {
    f.dependencies?.forEach((d, i) => {
      if (d.feature === f.key) {
        ctx.addIssue({
          code: 'custom',
          path: ['dependencies', i, 'feature'],
          message: 'a flag cannot depend on itself',
        });
      }
    });
  });

/** One problem found in a flag definition. */
export interface FlagIssue {
  /** JSON path of the offending value, e.g. `$.environments.production.strategies[0].parameters.rollout`. */
  path: string;
  message: string;
}

/** Formats a zod issue path as a JSON path (`$`, `.key`, `[index]`, `["odd key"]`). */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function issuesOf(error: z.ZodError): FlagIssue[] {
  const out: FlagIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: formatJsonPath([...issue.path, key]), message: 'unknown key' });
      }
      continue;
    }
    out.push({ path: formatJsonPath(issue.path), message: issue.message });
  }
  return out;
}

function invalid(what: string, issues: FlagIssue[], location?: string): CutoverError {
  const shown = issues
    .slice(0, 5)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
  return new CutoverError(
    'FLAG_INVALID',
    'config',
    `invalid ${what}${location ? ` ${location}` : ''}: ${issues.length} problem${issues.length === 1 ? '' : 's'}: ${shown}${more}`,
    {
      location: issues[0]?.path,
      hint: 'fix each listed JSON path; see the "Flag evaluation" section of the README for the format',
      details: { issues },
    },
  );
}

/** Options of {@link parseFlag}. */
export interface ParseFlagOptions {
  /** Ids of the segments that exist; when given, references to other ids are problems. */
  segmentIds?: Iterable<number>;
}

/**
 * Validates an untrusted flag definition and returns it typed. Collects EVERY
 * problem (structure, unknown keys, operator/value mismatches, invalid
 * regex/semver/date/CIDR, rollout outside 0..100, variant weights, unknown
 * segments when `segmentIds` is given).
 * @throws CutoverError `FLAG_INVALID` (category `config`) with
 *   `details.issues: [{ path, message }]`, `path` a JSON path such as
 *   `$.environments.production.strategies[0].parameters.rollout`.
 */
export function parseFlag(input: unknown, options: ParseFlagOptions = {}): Flag {
  const result = flagSchema.safeParse(input);
  const issues = result.success ? [] : issuesOf(result.error);
  if (result.success && options.segmentIds !== undefined) {
    const known = new Set(options.segmentIds);
    for (const [env, def] of Object.entries(result.data.environments)) {
      def.strategies.forEach((s, i) => {
        s.segments?.forEach((id, j) => {
          if (!known.has(id)) {
            issues.push({
              path: formatJsonPath(['environments', env, 'strategies', i, 'segments', j]),
              message: `segment ${id} does not exist`,
            });
          }
        });
      });
    }
  }
  if (!result.success || issues.length > 0) {
    const key =
      typeof input === 'object' &&
      input !== null &&
      typeof (input as { key?: unknown }).key === 'string'
        ? `"${(input as { key: string }).key}"`
        : undefined;
    throw invalid('flag definition', issues, key);
  }
  return result.data;
}

/**
 * Validates an untrusted segment definition.
 * @throws CutoverError `FLAG_INVALID` (category `config`) with `details.issues`.
 */
export function parseSegment(input: unknown): Segment {
  const result = segmentSchema.safeParse(input);
  if (!result.success) throw invalid('segment definition', issuesOf(result.error));
  return result.data;
}

// Compile-time checks that the schemas produce the shared model types.
type Assignable<T, U extends T> = U;
type _ConstraintMatches = Assignable<Constraint, z.output<typeof constraintSchema>>;
type _VariantMatches = Assignable<Variant, z.output<typeof variantSchema>>;
type _StrategyMatches = Assignable<Strategy, z.output<typeof strategySchema>>;
type _FlagMatches = Assignable<Flag, z.output<typeof flagSchema>>;
