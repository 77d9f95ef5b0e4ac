import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
import { withTransaction } from '../store/with-transaction.js';
import { flagToFeature } from './flag-to-feature.js';
import { notifyFlagChange } from './flag-notification.js';
import { schemaMissing, translateError } from './flag-store-errors.js';
import type { ChangeMeta, FlagAction, FlagChange, SegmentChange } from './flag-store-types.js';
import type { Flag, Segment } from './model.js';
import { parseFlag } from './parse-flag.js';
import { recordFlagEvent } from './record-flag-event.js';

/** One transaction of changes: the lock on `flag_state` is held throughout. */
export interface ChangeBatch {
  apply(
    key: string,
    action: FlagAction,
    mutate: (current: Flag | null) => Flag | null,
    meta: ChangeMeta,
    details?: Record<string, unknown>,
  ): Promise<FlagChange>;
  /** Creates or replaces a segment (every environment's payload changes). */
  putSegment(segment: Segment, meta: ChangeMeta): Promise<SegmentChange>;
  /** Deletes a segment no flag references. */
  deleteSegment(id: number, meta: ChangeMeta): Promise<SegmentChange>;
}

/**
 * Runs changes in one transaction holding the `flag_state` row lock (which
 * serialises all flag writers), bumps the global revision once if anything
 * changed, and sends one notification on commit.
 */
export async function runChangeBatch<T>(
  pool: pg.Pool,
  now: () => Date,
  run: (batch: ChangeBatch, client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  try {
    return await withTransaction(pool, (client) => changeInTransaction(client, now, run));
  } catch (error) {
    throw translateError(error);
  }
}

/** The body of {@link runChangeBatch}, on `client` inside its transaction. */
async function changeInTransaction<T>(
  client: pg.PoolClient,
  now: () => Date,
  run: (batch: ChangeBatch, client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const state = await client.query<{ revision: string }>(
    'select revision from cutover.flag_state for update',
  );
  if (state.rows[0] === undefined) throw schemaMissing();
  const revision = Number(state.rows[0].revision) + 1;
  const at = now();
  const known = (
    await client.query<{ environment: string }>('select environment from cutover.flag_environments')
  ).rows.map((r) => r.environment);
  const touched = new Set<string>();
  let changedAny = false;
  let allEnvironments = false;
  let segmentIds: Set<number> | undefined;
  const loadSegmentIds = async (): Promise<Set<number>> => {
    segmentIds ??= new Set(
      (await client.query<{ id: number }>('select id from cutover.flag_segments')).rows.map(
        (r) => r.id,
      ),
    );
    return segmentIds;
  };

  const batch: ChangeBatch = {
    apply: async (key, action, mutate, meta, details) => {
      const actor = parseActor(meta.actor);
      const operationId = parseOperationId(meta.operationId);
      const { rows } = await client.query<{ definition: Flag; version: number }>(
        'select definition, version from cutover.flags where key = $1',
        [key],
      );
      const current = rows[0]?.definition ?? null;
      const currentVersion = rows[0]?.version ?? 0;
      if (operationId !== null) {
        const { rows: done } = await client.query<{
          version: number;
          previous_version: number;
          action: FlagAction;
          definition: Flag | null;
          revision: string;
        }>(
          `select version, previous_version, action, definition, revision from cutover.flag_versions
            where key = $1 and operation_id = $2`,
          [key, operationId],
        );
        const recorded = done[0];
        if (recorded !== undefined) {
          return {
            key,
            action: recorded.action,
            flag: current,
            version: recorded.definition === null ? 0 : recorded.version,
            previousVersion: recorded.previous_version,
            changed: false,
            revision: Number(recorded.revision),
            environments: [],
          };
        }
      }
      const next = mutate(current);
      if (next !== null && referencesSegments(next)) {
        parseFlag(next, { segmentIds: await loadSegmentIds() });
      }
      if (isDeepStrictEqual(current, next)) {
        return {
          key,
          action,
          flag: current,
          version: currentVersion,
          previousVersion: currentVersion,
          changed: false,
          revision: revision - 1,
          environments: [],
        };
      }
      const environments = changedEnvironments(current, next, known);
      for (const env of environments) touched.add(env);
      changedAny = true;
      const { rows: versionRows } = await client.query<{ version: number }>(
        'select coalesce(max(version), 0)::int as version from cutover.flag_versions where key = $1',
        [key],
      );
      const version = (versionRows[0]?.version ?? 0) + 1;
      if (next === null) {
        await client.query('delete from cutover.flags where key = $1', [key]);
      } else {
        await client.query(
          `insert into cutover.flags (key, definition, version, created_at, updated_at, updated_by)
           values ($1, $2, $3, $4, $4, $5)
           on conflict (key) do update
             set definition = excluded.definition, version = excluded.version,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
          [key, JSON.stringify(next), version, at, actor],
        );
      }
      await client.query(
        `insert into cutover.flag_versions
           (key, version, action, definition, actor, reason, revision, previous_version, operation_id, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          key,
          version,
          action,
          next === null ? null : JSON.stringify(next),
          actor,
          meta.reason ?? null,
          revision,
          currentVersion,
          operationId,
          at,
        ],
      );
      await recordFlagEvent(client, {
        at,
        actor,
        action,
        flagKey: key,
        environment: typeof details?.env === 'string' ? details.env : null,
        version,
        reason: meta.reason,
        details: { previousVersion: currentVersion, environments, ...details },
      });
      return {
        key,
        action,
        flag: next,
        version: next === null ? 0 : version,
        previousVersion: currentVersion,
        changed: true,
        revision,
        environments,
      };
    },
    putSegment: async (segment, meta) => {
      const actor = parseActor(meta.actor);
      const { rows } = await client.query<{ definition: Segment }>(
        'select definition from cutover.flag_segments where id = $1',
        [segment.id],
      );
      const before = rows[0]?.definition ?? null;
      if (isDeepStrictEqual(before, segment)) {
        return { id: segment.id, segment, changed: false, revision: revision - 1 };
      }
      await client.query(
        `insert into cutover.flag_segments (id, definition, updated_at, updated_by)
         values ($1, $2, $3, $4)
         on conflict (id) do update set definition = excluded.definition,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        [segment.id, JSON.stringify(segment), at, actor],
      );
      (await loadSegmentIds()).add(segment.id);
      await recordFlagEvent(client, {
        at,
        actor,
        action: before === null ? 'segment-create' : 'segment-update',
        reason: meta.reason,
        details: { segment: segment.id },
      });
      changedAny = true;
      allEnvironments = true;
      return { id: segment.id, segment, changed: true, revision };
    },
    deleteSegment: async (id, meta) => {
      const actor = parseActor(meta.actor);
      const { rows: users } = await client.query<{ key: string }>(
        `select key from cutover.flags
          where jsonb_path_exists(definition, '$.environments.*.strategies[*].segments[*] ? (@ == $id)', jsonb_build_object('id', $1::int))
          order by key`,
        [id],
      );
      if (users.length > 0) {
        throw new CutoverError(
          'SEGMENT_IN_USE',
          'refused',
          `Segment ${id} is used by ${users.length} flag${users.length === 1 ? '' : 's'}: ${users.map((u) => u.key).join(', ')}.`,
          {
            location: `segment ${id}`,
            hint: 'Remove it from those flags first.',
            details: { flags: users.map((u) => u.key) },
          },
        );
      }
      const { rowCount } = await client.query('delete from cutover.flag_segments where id = $1', [
        id,
      ]);
      if (rowCount === 0) {
        throw new CutoverError('SEGMENT_NOT_FOUND', 'not_found', `Segment ${id} does not exist.`, {
          location: `segment ${id}`,
          hint: 'List the segments with GET /api/admin/segments.',
        });
      }
      (await loadSegmentIds()).delete(id);
      await recordFlagEvent(client, {
        at,
        actor,
        action: 'segment-delete',
        reason: meta.reason,
        details: { segment: id },
      });
      changedAny = true;
      allEnvironments = true;
      return { id, segment: null, changed: true, revision };
    },
  };

  const result = await run(batch, client);
  if (changedAny) {
    await client.query('update cutover.flag_state set revision = $1', [revision]);
    if (allEnvironments) for (const env of known) touched.add(env);
    const envs = [...touched].sort();
    if (envs.length > 0) {
      await client.query(
        `insert into cutover.flag_environments (environment, revision)
         select unnest($1::text[]), $2
         on conflict (environment) do update set revision = excluded.revision`,
        [envs, revision],
      );
    }
    await notifyFlagChange(client, {
      type: 'flags',
      revision,
      environments: allEnvironments ? null : Object.fromEntries(envs.map((env) => [env, revision])),
    });
  }
  return result;
}

function referencesSegments(flag: Flag): boolean {
  return Object.values(flag.environments).some((env) =>
    env.strategies.some((s) => (s.segments ?? []).length > 0),
  );
}

/** Environments (known ones and those of either definition) whose client feature differs. */
function changedEnvironments(before: Flag | null, after: Flag | null, known: string[]): string[] {
  const candidates = new Set(known);
  for (const env of Object.keys(before?.environments ?? {})) candidates.add(env);
  for (const env of Object.keys(after?.environments ?? {})) candidates.add(env);
  const changed: string[] = [];
  for (const env of candidates) {
    const a = before === null ? null : (flagToFeature(before, env) ?? null);
    const b = after === null ? null : (flagToFeature(after, env) ?? null);
    if (!isDeepStrictEqual(a, b)) changed.push(env);
  }
  return changed.sort();
}

function parseActor(actor: unknown): string {
  if (typeof actor !== 'string' || actor.trim() === '') {
    throw new CutoverError('FLAG_ACTOR_REQUIRED', 'config', 'A flag change needs an actor.', {
      location: 'actor',
      hint: 'Pass { actor: "<who>" } (a user, token or run name).',
    });
  }
  return actor;
}

function parseOperationId(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value === '' || value.length > 200) {
    throw new CutoverError(
      'FLAG_OPERATION_ID_INVALID',
      'config',
      'An operationId must be a non-empty string of at most 200 characters.',
      { location: 'operationId', hint: 'Use e.g. run:<run id>:<step id>.' },
    );
  }
  return value;
}
