import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { CutoverError, isCutoverError } from '../errors/index.js';
import { withPatch, type FlagPatch } from '../flags/flag-mutations.js';
import { createFlagStore, type FlagStore } from '../flags/flag-store.js';
import type { FlagChange, FlagVersion } from '../flags/flag-store-types.js';
import type { Flag } from '../flags/model.js';
import { FLAG_KEY_PATTERN } from '../flags/parse-flag.js';
import { describeFlagChange, flagEnvironmentState } from './describe-flag-change.js';
import type { StepContext, StepDescription, StepKind } from './step-kind.js';

/**
 * Spec of a `flag` step: `flag: { key: new-dashboard, rollout: 5 }`.
 * At least one of `rollout`, `enabled`, `users` is required.
 */
export interface FlagStepSpec {
  /** Flag key, e.g. `new-dashboard`. */
  key: string;
  /** Environment to change. Default: the plan's `environment`. */
  env?: string | undefined;
  /**
   * Rollout percentage, a whole number 0..100 (written `5` or `"5%"`): every
   * `flexibleRollout` strategy of the environment gets it; without one, one
   * is added (stickiness `default`, groupId = key) and an unconstrained
   * `default` strategy is removed. Does not turn the flag on or off.
   */
  rollout?: number | undefined;
  /** On/off in the environment (the kill switch). */
  enabled?: boolean | undefined;
  /** Users always enabled (the `userWithId` strategy); `[]` removes it. */
  users?: string[] | undefined;
  /**
   * Whether to create the flag when it does not exist. `true`: create it;
   * `false`: fail (`FLAG_NOT_FOUND`); omitted: create it only when `rollout`
   * is given (then the definition is complete: a `flexibleRollout` at
   * `rollout` %), else fail.
   */
  create?: boolean | undefined;
}

/** Output of a `flag` step (recorded with the step; compensation reads it). */
export interface FlagStepOutput {
  key: string;
  /** The environment changed. */
  env: string;
  /** The flag's version after the step (0: absent). */
  version: number;
  /**
   * The version before the step, which compensation restores (0: the flag did
   * not exist, so compensation deletes it). Equal to `version` when the step
   * changed nothing.
   */
  previousVersion: number;
  /** The step's change is in effect (false: the flag already was as asked). */
  changed: boolean;
  /** The step created the flag. */
  created: boolean;
  /** The change in the field's terms, e.g. `rollout 5% → 50%`. */
  summary: string;
}

const ENVIRONMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const PERCENT_TEXT = /^\s*(\d{1,3})\s*%?\s*$/;
const ROLLOUT_ERROR = 'expected a whole percentage from 0 to 100, like 5 or "5%"';

const rolloutSchema = z
  .union([z.number(), z.string()], { error: ROLLOUT_ERROR })
  .transform((value, ctx) => {
    const match = typeof value === 'string' ? PERCENT_TEXT.exec(value) : null;
    const n = typeof value === 'number' ? value : match?.[1] === undefined ? NaN : Number(match[1]);
    if (!Number.isInteger(n) || n < 0 || n > 100) {
      ctx.addIssue({ code: 'custom', message: ROLLOUT_ERROR });
      return z.NEVER;
    }
    return n;
  });

/** The schema of a `flag` step body (strict: unknown keys are rejected). */
export const flagStepSpecSchema = z
  .strictObject({
    key: z.string().regex(FLAG_KEY_PATTERN, {
      error:
        'expected a flag key: 1-100 letters, digits, ".", "_", "~", "-", starting with a letter or digit',
    }),
    env: z
      .string()
      .regex(ENVIRONMENT_PATTERN, {
        error: 'expected an environment name like production (letters, digits, "_", ".", "-")',
      })
      .optional(),
    rollout: rolloutSchema.optional(),
    enabled: z.boolean({ error: 'expected true or false' }).optional(),
    users: z
      .array(
        z
          .string()
          .trim()
          .min(1, { error: 'expected a user id' })
          .refine((id) => !id.includes(','), { error: 'a user id cannot contain a comma' }),
      )
      .optional(),
    create: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .refine((s) => s.rollout !== undefined || s.enabled !== undefined || s.users !== undefined, {
    error: 'expected at least one of rollout, enabled, users',
  });

/** The store's idempotency key of a step's change: `run:<run id>:<step id>`. */
export function flagStepOperationId(runId: string, stepId: string): string {
  return `run:${runId}:${stepId}`;
}

/** The idempotency key of the compensation of a step: `run:<run id>:<step id>:compensate`. */
export function flagCompensationOperationId(runId: string, stepId: string): string {
  return `${flagStepOperationId(runId, stepId)}:compensate`;
}

function patchOf(spec: FlagStepSpec): FlagPatch {
  return {
    ...(spec.rollout === undefined ? {} : { rollout: spec.rollout }),
    ...(spec.enabled === undefined ? {} : { enabled: spec.enabled }),
    ...(spec.users === undefined ? {} : { users: spec.users }),
  };
}

function mayCreate(spec: FlagStepSpec): boolean {
  return spec.create ?? spec.rollout !== undefined;
}

/** The definition a `flag` step creates when the flag does not exist. */
function newFlag(spec: FlagStepSpec, env: string, runId: string, stepId: string): Flag {
  return withPatch(
    {
      key: spec.key,
      description: `Created by cutover run ${runId} (step ${stepId}).`,
      type: 'release',
      tags: { category: 'migration' },
      environments: {},
    },
    patchOf(spec),
    env,
  );
}

function flagMissing(spec: FlagStepSpec, env: string, stepId: string): CutoverError {
  const create = `cutover flags create ${spec.key} --env ${env} --rollout 0${spec.enabled === false ? ' --disabled' : ''}`;
  return new CutoverError(
    'FLAG_NOT_FOUND',
    'not_found',
    `Flag "${spec.key}" does not exist, and step ${stepId} does not create flags${spec.create === false ? ' (create: false)' : ' (it sets no `rollout`)'}.`,
    {
      location: stepId,
      hint: `Create it first (\`${create}\`), or add \`create: true\` to the step to create it.`,
      details: { key: spec.key, env },
    },
  );
}

function envOf(spec: FlagStepSpec, ctx: Pick<StepContext, 'environment'>): string {
  return spec.env ?? ctx.environment;
}

function definitionAt(versions: readonly FlagVersion[], version: number): Flag | null {
  if (version === 0) return null;
  return versions.find((v) => v.version === version)?.flag ?? null;
}

/** Every version of `key`, newest first; [] when it never existed. */
async function historyOf(store: FlagStore, key: string): Promise<FlagVersion[]> {
  try {
    return await store.history(key);
  } catch (error) {
    if (isCutoverError(error) && error.code === 'FLAG_NOT_FOUND') return [];
    throw error;
  }
}

async function applyChange(
  store: FlagStore,
  spec: FlagStepSpec,
  env: string,
  ctx: StepContext,
): Promise<FlagChange> {
  const meta = {
    actor: ctx.actor,
    reason: `cutover run ${ctx.runId}, step ${ctx.stepId}`,
    operationId: flagStepOperationId(ctx.runId, ctx.stepId),
  };
  const patch = (): Promise<FlagChange> => store.patch(spec.key, patchOf(spec), { ...meta, env });
  if (!mayCreate(spec)) {
    try {
      return await patch();
    } catch (error) {
      if (isCutoverError(error) && error.code === 'FLAG_NOT_FOUND') {
        throw flagMissing(spec, env, ctx.stepId);
      }
      throw error;
    }
  }
  const existing = await store.find(spec.key);
  if (existing !== undefined) return patch();
  try {
    // Recorded with the same operationId, so a resumed step finds it either way.
    return await store.create(newFlag(spec, env, ctx.runId, ctx.stepId), meta);
  } catch (error) {
    // Created by someone else in between: change it instead.
    if (isCutoverError(error) && error.code === 'FLAG_EXISTS') return patch();
    throw error;
  }
}

/** What a step will see before it runs, simulated from the store and the plan's earlier `flag` steps. */
async function simulate(
  spec: FlagStepSpec,
  ctx: StepContext,
): Promise<{ before: Flag | null; after: Flag | null; restore: number; error?: CutoverError }> {
  const store = createFlagStore(ctx.pool);
  let current: Flag | null = null;
  let latest = 0;
  try {
    const record = await store.find(spec.key);
    current = record?.flag ?? null;
    latest = record?.version ?? (await historyOf(store, spec.key))[0]?.version ?? 0;
  } catch (error) {
    // A database without cutover's flag tables has no flags yet.
    if (!(isCutoverError(error) && error.code === 'CONTROL_SCHEMA_MISSING')) throw error;
  }
  let version = current === null ? 0 : latest;
  const step = (s: FlagStepSpec, stepId: string): { next: Flag | null; error?: CutoverError } => {
    const env = envOf(s, ctx);
    if (current === null) {
      if (!mayCreate(s)) return { next: null, error: flagMissing(s, env, stepId) };
      return { next: newFlag(s, env, ctx.runId, stepId) };
    }
    return { next: withPatch(current, patchOf(s), env) };
  };
  for (const earlier of ctx.completedSteps) {
    if (earlier.kind !== 'flag') continue;
    const parsed = flagStepSpecSchema.safeParse(earlier.spec);
    if (!parsed.success || parsed.data.key !== spec.key) continue;
    const { next } = step(parsed.data, earlier.id);
    if (next !== null && !isDeepStrictEqual(next, current)) {
      latest += 1;
      version = latest;
      current = next;
    }
  }
  const { next, error } = step(spec, ctx.stepId);
  return {
    before: current,
    after: error === undefined ? next : current,
    restore: version,
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * `flag: { key, env?, rollout?, enabled?, users?, create? }` — changes a
 * feature flag of cutover's flag store (schema `cutover` of the run's
 * database) as one new version, in the plan's `environment` unless `env` is
 * given, and records the version before the change.
 *
 * - **Apply**: `FlagStore.patch(key, { rollout, users, enabled }, { env,
 *   actor: <the run's actor>, reason: "cutover run <id>, step <step>",
 *   operationId: "run:<run id>:<step id>" })`. The change, its version, the
 *   flag audit-log entry and the LISTEN/NOTIFY message commit together, so
 *   every `cutover serve` replica pushes it to SDK clients at once. A flag
 *   already as asked is left alone (no version). The run's audit log gets
 *   `flag.changed` (or `flag.unchanged`) with the key, environment, versions
 *   and the change (`rollout 5% → 50%`).
 * - **Missing flag**: created when `create: true`, or when `create` is omitted
 *   and `rollout` is given, as `{ type: release, tags: { category: migration },
 *   environments: { <env>: <the change applied to nothing> } }` — e.g. on with
 *   a `flexibleRollout` at `rollout` % (see `withRollout`, `withUsers`,
 *   `withEnabled`: `enabled: true` alone means on for everyone). Otherwise the
 *   step fails with `FLAG_NOT_FOUND` naming the key and the `cutover flags
 *   create` command.
 * - **Resume**: re-applying after a crash is idempotent — the store finds the
 *   change already recorded under the step's operationId and returns its
 *   versions (`changed: false`), so nothing is applied twice and the version
 *   to restore is still known.
 * - **Compensation**: `restoreVersion(key, previousVersion)` — the flag becomes
 *   exactly what it was before the step (version 0: deleted), even if someone
 *   changed it since (logged as `overwritten`). Rolling back several `flag`
 *   steps on one key (in reverse order) restores each one's previous version,
 *   ending at the definition before the first. A step that was interrupted
 *   before it recorded its output is looked up by its operationId; one that
 *   changed nothing has nothing to undo. Idempotent (operationId
 *   `run:<run id>:<step id>:compensate`); the run's audit log gets
 *   `flag.restored`.
 *
 * Errors: `FLAG_NOT_FOUND` (not_found), and those of `FlagStore.patch`
 * (`FLAG_ROLLOUT_INVALID`, `FLAG_USERS_INVALID`, `FLAG_ENVIRONMENT_INVALID`).
 */
export function createFlagStepKind(): StepKind<FlagStepSpec, FlagStepOutput> {
  return {
    name: 'flag',
    schema: flagStepSpecSchema,
    async describe(spec, ctx): Promise<StepDescription> {
      const env = envOf(spec, ctx);
      const { before, after, restore, error } = await simulate(spec, ctx);
      if (error !== undefined) throw error;
      const summary = `${spec.key} (${env}): ${describeFlagChange(before, after, env)}`;
      const details: string[] = [];
      const state = flagEnvironmentState(after, env);
      if (state.defined && !state.enabled && spec.enabled === undefined) {
        details.push(
          `The flag is off in ${env}: nobody sees the change until it is enabled (add \`enabled: true\`).`,
        );
      }
      let compensation: string;
      if (isDeepStrictEqual(before, after)) {
        compensation = 'none (the flag already is as asked: nothing to restore)';
      } else if (before === null) {
        compensation = 'delete the flag (restore version 0: it did not exist)';
      } else {
        compensation = `restore version ${restore} (${describeFlagChange(after, before, env)})`;
      }
      return { summary, ...(details.length > 0 ? { details } : {}), compensation };
    },
    async apply(spec, ctx) {
      const env = envOf(spec, ctx);
      const store = createFlagStore(ctx.pool);
      const change = await applyChange(store, spec, env, ctx);
      const inEffect = change.changed || change.version !== change.previousVersion;
      let before: Flag | null;
      let after: Flag | null;
      if (change.changed) {
        after = change.flag;
        before =
          change.previousVersion === 0
            ? null
            : (await store.getVersion(spec.key, change.previousVersion)).flag;
      } else if (inEffect) {
        // Already applied before a crash: report what that change did.
        const versions = await historyOf(store, spec.key);
        before = definitionAt(versions, change.previousVersion);
        after = definitionAt(versions, change.version);
      } else {
        before = change.flag;
        after = change.flag;
      }
      const output: FlagStepOutput = {
        key: spec.key,
        env,
        version: change.version,
        previousVersion: change.previousVersion,
        changed: inEffect,
        created: inEffect && change.previousVersion === 0,
        summary: describeFlagChange(before, after, env),
      };
      await ctx.log(inEffect ? 'flag.changed' : 'flag.unchanged', {
        ...output,
        ...(inEffect && !change.changed ? { alreadyApplied: true } : {}),
      });
      return output;
    },
    async checkCompensation(spec, output, ctx) {
      if (output === undefined || output.previousVersion === 0) return;
      if (output.version === output.previousVersion) return;
      try {
        await createFlagStore(ctx.pool).getVersion(spec.key, output.previousVersion);
      } catch (error) {
        if (
          isCutoverError(error) &&
          (error.code === 'FLAG_VERSION_NOT_FOUND' || error.code === 'CONTROL_SCHEMA_MISSING')
        ) {
          throw new CutoverError(
            'COMPENSATION_IMPOSSIBLE',
            'refused',
            `version ${output.previousVersion} of flag "${spec.key}" is gone, so it cannot be restored`,
            {
              hint: `Set the flag by hand (\`cutover flags set ${spec.key} --env ${output.env} …\`), or roll forward.`,
            },
          );
        }
        throw error;
      }
    },
    async compensate(spec, output, ctx) {
      const store = createFlagStore(ctx.pool);
      const versions = await historyOf(store, spec.key);
      const applyId = flagStepOperationId(ctx.runId, ctx.stepId);
      const compensateId = flagCompensationOperationId(ctx.runId, ctx.stepId);
      let target: { version: number; previousVersion: number } | undefined;
      if (output !== undefined) {
        if (output.version !== output.previousVersion) target = output;
      } else {
        // Interrupted or failed before its output was recorded: did its change commit?
        const applied = versions.find((v) => v.operationId === applyId);
        if (applied !== undefined) {
          target = {
            version: applied.flag === null ? 0 : applied.version,
            previousVersion: applied.previousVersion,
          };
        }
      }
      if (target === undefined) return; // nothing was changed
      const env = output?.env ?? envOf(spec, ctx);
      const done = versions.find((v) => v.operationId === compensateId);
      const latest = versions[0];
      const current = latest === undefined ? null : latest.flag;
      const stepDefinition = definitionAt(versions, target.version);
      const restoring = definitionAt(versions, target.previousVersion);
      const change = await store.restoreVersion(spec.key, target.previousVersion, {
        actor: ctx.actor,
        reason: `rollback of cutover run ${ctx.runId}, step ${ctx.stepId}`,
        operationId: compensateId,
      });
      await ctx.log('flag.restored', {
        key: spec.key,
        env,
        restoredVersion: target.previousVersion,
        version: change.version,
        stepVersion: target.version,
        summary: describeFlagChange(done === undefined ? current : stepDefinition, restoring, env),
        ...(done !== undefined ? { alreadyRestored: true } : {}),
        ...(done === undefined && !isDeepStrictEqual(current, stepDefinition)
          ? { overwritten: { version: latest?.version ?? 0, by: latest?.actor ?? null } }
          : {}),
      });
    },
  };
}
