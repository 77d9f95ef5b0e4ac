import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { CutoverError, isCutoverError } from '../errors/index.js';
import { flagToFeature } from './flag-to-feature.js';
import {
  flagHasTag,
  withEnabled,
  withPatch,
  withRollout,
  type FlagPatch,
  type TagFilter,
} from './flag-mutations.js';
import type {
  ChangeMeta,
  EnvironmentChangeMeta,
  FlagAction,
  FlagAdmin,
  FlagChange,
  FlagExport,
  FlagRecord,
  FlagVersion,
  ImportOptions,
  ListFilter,
  SegmentChange,
} from './flag-store-types.js';
import type { Flag, Segment } from './model.js';
import { parseFlag, parseSegment } from './parse-flag.js';

/** The LISTEN/NOTIFY channel on which every committed flag or token change is announced. */
export const FLAG_CHANNEL = 'cutover_flags';

/**
 * A message on {@link FLAG_CHANNEL} (JSON):
 * - `{ type: 'flags', revision, environments }`: flags changed; `environments`
 *   maps each environment whose client payload changed to its new revision
 *   (null: assume every environment changed);
 * - `{ type: 'tokens' }`: a token was created or revoked.
 */
export type FlagNotification =
  | { type: 'flags'; revision: number; environments: Record<string, number> | null }
  | { type: 'tokens' };

/**
 * A consistent picture of every flag, read in one statement: what the server
 * turns into client payloads.
 */
export interface FlagSnapshot {
  /** Random id of this database's flag store (ETags of two databases never collide). */
  epoch: string;
  /** Global revision: bumped by every committed change. */
  revision: number;
  /** Revision per environment that some change touched; others use {@link FlagSnapshot.revision}. */
  environments: Record<string, number>;
  /** Every flag, sorted by key. */
  flags: Flag[];
  /** Every segment, sorted by id. */
  segments: Segment[];
}

/**
 * The revision of `env`'s client payload in `snapshot`: the global revision
 * of the last change that altered it. For an environment no change ever
 * touched, the global revision (conservative: it changes with every change,
 * but never goes back). Monotonic per environment.
 */
export function environmentRevision(snapshot: FlagSnapshot, env: string): number {
  return snapshot.environments[env] ?? snapshot.revision;
}

/**
 * The PostgreSQL flag store: {@link FlagAdmin} plus what the server needs.
 * Tables in schema `cutover` (internal migration 0003): `flags`,
 * `flag_versions`, `flag_state`, `flag_environments`, `flag_events`.
 */
export interface FlagStore extends FlagAdmin {
  /** The flag, or undefined when it does not exist. */
  find(key: string): Promise<FlagRecord | undefined>;
  /** One version of a flag. @throws `FLAG_VERSION_NOT_FOUND` */
  getVersion(key: string, version: number): Promise<FlagVersion>;
  /** Every flag and the revisions, in one consistent read. */
  snapshot(): Promise<FlagSnapshot>;
  /** The audit log, newest first (flag and token changes). */
  events(options?: { key?: string | undefined; limit?: number | undefined }): Promise<FlagEvent[]>;
}

/** An audit-log entry (`cutover.flag_events`). */
export interface FlagEvent {
  id: number;
  at: Date;
  actor: string;
  /** A {@link FlagAction}, or `token-create` / `token-revoke`. */
  action: string;
  flagKey: string | null;
  environment: string | null;
  version: number | null;
  reason: string | null;
  details: Record<string, unknown> | null;
}

/** Options of {@link createFlagStore}. */
export interface FlagStoreOptions {
  /** Clock for recorded times. Default `() => new Date()`. */
  now?: () => Date;
}

/**
 * Opens the flag store on `pool`. The control schema (`cutover`, with
 * internal migration 0003) must exist: call `ensureControlSchema(pool)` first.
 * The store holds no connection of its own.
 */
export function createFlagStore(pool: pg.Pool, options: FlagStoreOptions = {}): FlagStore {
  return new PgFlagStore(pool, options.now ?? (() => new Date()));
}

interface FlagRow {
  key: string;
  definition: Flag;
  version: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

interface VersionRow {
  key: string;
  version: number;
  action: FlagAction;
  definition: Flag | null;
  actor: string;
  reason: string | null;
  revision: string;
  previous_version: number;
  operation_id: string | null;
  created_at: Date;
}

/** One transaction of changes: the lock on `flag_state` is held throughout. */
interface ChangeBatch {
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

const NOTIFY_LIMIT = 7900;

class PgFlagStore implements FlagStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => Date,
  ) {}

  async list(filter: ListFilter = {}): Promise<FlagRecord[]> {
    const { rows } = await this.pool.query<FlagRow>(
      filter.tag === undefined
        ? 'select * from cutover.flags order by key'
        : `select * from cutover.flags where definition->'tags'->>$1 = $2 order by key`,
      filter.tag === undefined ? [] : [filter.tag.name, filter.tag.value],
    );
    return rows.map(toRecord);
  }

  async find(key: string): Promise<FlagRecord | undefined> {
    const { rows } = await this.pool.query<FlagRow>('select * from cutover.flags where key = $1', [
      key,
    ]);
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  }

  async get(key: string): Promise<FlagRecord> {
    const record = await this.find(key);
    if (record === undefined) throw flagNotFound(key);
    return record;
  }

  async create(input: unknown, meta: ChangeMeta): Promise<FlagChange> {
    const flag = parseFlag(input);
    return this.single((batch) =>
      batch.apply(
        flag.key,
        'create',
        (current) => {
          if (current !== null) {
            throw new CutoverError('FLAG_EXISTS', 'refused', `Flag "${flag.key}" already exists.`, {
              location: flag.key,
              hint: 'Update it instead (PUT /api/admin/flags/<key>, `cutover flags set`), or pick another key.',
            });
          }
          return flag;
        },
        meta,
      ),
    );
  }

  async update(key: string, input: unknown, meta: ChangeMeta): Promise<FlagChange> {
    const flag = parseFlag(input);
    if (flag.key !== key) {
      throw new CutoverError(
        'FLAG_KEY_MISMATCH',
        'config',
        `The definition's key "${flag.key}" differs from the flag "${key}" being updated.`,
        {
          location: 'key',
          hint: 'Keys cannot be renamed: create a new flag and delete the old one.',
        },
      );
    }
    return this.single((batch) =>
      batch.apply(
        key,
        'update',
        requireExisting(key, () => flag),
        meta,
      ),
    );
  }

  async delete(key: string, meta: ChangeMeta): Promise<FlagChange> {
    return this.single((batch) =>
      batch.apply(
        key,
        'delete',
        requireExisting(key, () => null),
        meta,
      ),
    );
  }

  async setRollout(key: string, percent: number, meta: EnvironmentChangeMeta): Promise<FlagChange> {
    return this.single((batch) =>
      batch.apply(
        key,
        'set-rollout',
        requireExisting(key, (flag) => withRollout(flag, percent, meta.env)),
        meta,
        { rollout: percent, env: meta.env ?? null },
      ),
    );
  }

  async patch(key: string, patch: FlagPatch, meta: EnvironmentChangeMeta): Promise<FlagChange> {
    return this.single((batch) =>
      batch.apply(
        key,
        'patch',
        requireExisting(key, (flag) => withPatch(flag, patch, meta.env)),
        meta,
        {
          env: meta.env ?? null,
          ...(patch.rollout === undefined ? {} : { rollout: patch.rollout }),
          ...(patch.enabled === undefined ? {} : { enabled: patch.enabled }),
          ...(patch.users === undefined ? {} : { users: [...patch.users] }),
        },
      ),
    );
  }

  async enable(key: string, meta: EnvironmentChangeMeta): Promise<FlagChange> {
    return this.single((batch) =>
      batch.apply(
        key,
        'enable',
        requireExisting(key, (flag) => withEnabled(flag, true, meta.env)),
        meta,
        { env: meta.env ?? null },
      ),
    );
  }

  async disable(key: string, meta: EnvironmentChangeMeta): Promise<FlagChange> {
    return this.single((batch) =>
      batch.apply(
        key,
        'disable',
        requireExisting(key, (flag) => withEnabled(flag, false, meta.env)),
        meta,
        { env: meta.env ?? null },
      ),
    );
  }

  async disableByTag(tag: TagFilter, meta: EnvironmentChangeMeta): Promise<FlagChange[]> {
    return this.batch(async (batch, client) => {
      const { rows } = await client.query<{ key: string }>(
        `select key from cutover.flags where definition->'tags'->>$1 = $2 order by key`,
        [tag.name, tag.value],
      );
      const changes: FlagChange[] = [];
      for (const { key } of rows) {
        changes.push(
          await batch.apply(
            key,
            'disable',
            (current) => {
              if (current === null || !flagHasTag(current, tag)) return current;
              if (meta.env === undefined && Object.keys(current.environments).length === 0) {
                return current;
              }
              return withEnabled(current, false, meta.env);
            },
            meta,
            { tag: `${tag.name}=${tag.value}`, env: meta.env ?? null },
          ),
        );
      }
      return changes;
    });
  }

  async history(key: string, options: { limit?: number | undefined } = {}): Promise<FlagVersion[]> {
    const { rows } = await this.pool.query<VersionRow>(
      'select * from cutover.flag_versions where key = $1 order by version desc limit $2',
      [key, options.limit ?? null],
    );
    if (rows.length === 0) throw flagNotFound(key);
    return rows.map(toVersion);
  }

  async getVersion(key: string, version: number): Promise<FlagVersion> {
    const { rows } = await this.pool.query<VersionRow>(
      'select * from cutover.flag_versions where key = $1 and version = $2',
      [key, version],
    );
    if (rows[0] === undefined) throw versionNotFound(key, version);
    return toVersion(rows[0]);
  }

  async restoreVersion(key: string, version: number, meta: ChangeMeta): Promise<FlagChange> {
    if (!Number.isInteger(version) || version < 0) throw versionNotFound(key, version);
    return this.batch(async (batch, client) => {
      let target: Flag | null = null;
      if (version > 0) {
        const { rows } = await client.query<{ definition: Flag | null }>(
          'select definition from cutover.flag_versions where key = $1 and version = $2',
          [key, version],
        );
        if (rows[0] === undefined) throw versionNotFound(key, version);
        target = rows[0].definition;
      }
      return batch.apply(key, 'restore', () => target, meta, { restoredVersion: version });
    });
  }

  async export(): Promise<FlagExport> {
    const snapshot = await this.snapshot();
    return {
      format: 'cutover-flags',
      version: 1,
      exportedAt: this.now().toISOString(),
      flags: snapshot.flags,
      segments: snapshot.segments,
    };
  }

  async listSegments(): Promise<Segment[]> {
    const { rows } = await this.pool.query<{ definition: Segment }>(
      'select definition from cutover.flag_segments order by id',
    );
    return rows.map((r) => r.definition);
  }

  async putSegment(input: unknown, meta: ChangeMeta): Promise<SegmentChange> {
    const segment = parseSegment(input);
    return this.batch((batch) => batch.putSegment(segment, meta));
  }

  async deleteSegment(id: number, meta: ChangeMeta): Promise<SegmentChange> {
    return this.batch((batch) => batch.deleteSegment(id, meta));
  }

  async import(document: unknown, options: ImportOptions): Promise<FlagChange[]> {
    const { flags, segments } = parseImportDocument(document);
    return this.batch(async (batch, client) => {
      for (const segment of segments) await batch.putSegment(segment, options);
      const changes: FlagChange[] = [];
      for (const flag of flags) {
        changes.push(await batch.apply(flag.key, 'import', () => flag, options));
      }
      if (options.mode === 'replace') {
        const keep = new Set(flags.map((f) => f.key));
        const { rows } = await client.query<{ key: string }>(
          'select key from cutover.flags order by key',
        );
        for (const { key } of rows) {
          if (!keep.has(key)) changes.push(await batch.apply(key, 'delete', () => null, options));
        }
      }
      return changes;
    });
  }

  async snapshot(): Promise<FlagSnapshot> {
    const { rows } = await this.pool.query<{
      epoch: string;
      revision: string;
      environments: Record<string, string> | null;
      flags: Flag[] | null;
      segments: Segment[] | null;
    }>(
      `select s.epoch, s.revision,
              (select json_object_agg(environment, revision) from cutover.flag_environments) as environments,
              (select json_agg(definition order by key) from cutover.flags) as flags,
              (select json_agg(definition order by id) from cutover.flag_segments) as segments
         from cutover.flag_state s`,
    );
    const row = rows[0];
    if (row === undefined) throw schemaMissing();
    const environments: Record<string, number> = {};
    for (const [env, revision] of Object.entries(row.environments ?? {})) {
      environments[env] = Number(revision);
    }
    return {
      epoch: row.epoch,
      revision: Number(row.revision),
      environments,
      flags: row.flags ?? [],
      segments: row.segments ?? [],
    };
  }

  async events(
    options: { key?: string | undefined; limit?: number | undefined } = {},
  ): Promise<FlagEvent[]> {
    const { rows } = await this.pool.query<{
      id: string;
      at: Date;
      actor: string;
      action: string;
      flag_key: string | null;
      environment: string | null;
      version: number | null;
      reason: string | null;
      details: Record<string, unknown> | null;
    }>(
      `select * from cutover.flag_events where ($1::text is null or flag_key = $1)
        order by id desc limit $2`,
      [options.key ?? null, options.limit ?? 100],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      at: r.at,
      actor: r.actor,
      action: r.action,
      flagKey: r.flag_key,
      environment: r.environment,
      version: r.version,
      reason: r.reason,
      details: r.details,
    }));
  }

  private async single(run: (batch: ChangeBatch) => Promise<FlagChange>): Promise<FlagChange> {
    return this.batch((batch) => run(batch));
  }

  /**
   * Runs changes in one transaction holding the `flag_state` row lock (which
   * serialises all flag writers), bumps the global revision once if anything
   * changed, and sends one notification on commit.
   */
  private async batch<T>(
    run: (batch: ChangeBatch, client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const state = await client.query<{ revision: string }>(
        'select revision from cutover.flag_state for update',
      );
      if (state.rows[0] === undefined) throw schemaMissing();
      const revision = Number(state.rows[0].revision) + 1;
      const at = this.now();
      const known = (
        await client.query<{ environment: string }>(
          'select environment from cutover.flag_environments',
        )
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
          await client.query(
            `insert into cutover.flag_events (at, actor, action, flag_key, environment, version, reason, details)
             values ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [
              at,
              actor,
              action,
              key,
              typeof details?.env === 'string' ? details.env : null,
              version,
              meta.reason ?? null,
              JSON.stringify({ previousVersion: currentVersion, environments, ...details }),
            ],
          );
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
          await audit(
            client,
            at,
            actor,
            before === null ? 'segment-create' : 'segment-update',
            meta,
            {
              segment: segment.id,
            },
          );
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
          const { rowCount } = await client.query(
            'delete from cutover.flag_segments where id = $1',
            [id],
          );
          if (rowCount === 0) {
            throw new CutoverError(
              'SEGMENT_NOT_FOUND',
              'not_found',
              `Segment ${id} does not exist.`,
              {
                location: `segment ${id}`,
                hint: 'List the segments with GET /api/admin/segments.',
              },
            );
          }
          (await loadSegmentIds()).delete(id);
          await audit(client, at, actor, 'segment-delete', meta, { segment: id });
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
        await client.query('select pg_notify($1, $2)', [
          FLAG_CHANNEL,
          allEnvironments
            ? JSON.stringify({ type: 'flags', revision, environments: null })
            : notificationPayload(revision, envs),
        ]);
      }
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw translateError(error);
    } finally {
      client.release();
    }
  }
}

function referencesSegments(flag: Flag): boolean {
  return Object.values(flag.environments).some((env) =>
    env.strategies.some((s) => (s.segments ?? []).length > 0),
  );
}

async function audit(
  client: pg.PoolClient,
  at: Date,
  actor: string,
  action: string,
  meta: ChangeMeta,
  details: Record<string, unknown>,
): Promise<void> {
  await client.query(
    `insert into cutover.flag_events (at, actor, action, reason, details) values ($1, $2, $3, $4, $5)`,
    [at, actor, action, meta.reason ?? null, JSON.stringify(details)],
  );
}

/** The update function of a change that needs the flag to exist. */
function requireExisting(
  key: string,
  mutate: (flag: Flag) => Flag | null,
): (current: Flag | null) => Flag | null {
  return (current) => {
    if (current === null) throw flagNotFound(key);
    return mutate(current);
  };
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

function notificationPayload(revision: number, envs: string[]): string {
  const environments = Object.fromEntries(envs.map((env) => [env, revision]));
  const full = JSON.stringify({ type: 'flags', revision, environments });
  return full.length <= NOTIFY_LIMIT
    ? full
    : JSON.stringify({ type: 'flags', revision, environments: null });
}

/**
 * Reads an import document: `{ format, version, flags, segments? }`,
 * `{ flags }` or an array of flags. Validates every flag and segment and
 * reports all issues at once, with paths from the document's root.
 */
function parseImportDocument(document: unknown): { flags: Flag[]; segments: Segment[] } {
  const isObject = typeof document === 'object' && document !== null && !Array.isArray(document);
  const list: unknown = Array.isArray(document)
    ? document
    : isObject && 'flags' in document
      ? document.flags
      : undefined;
  const prefix = Array.isArray(document) ? '$' : '$.flags';
  if (!Array.isArray(list)) {
    throw new CutoverError('FLAG_INVALID', 'config', 'The import document has no list of flags.', {
      location: '$.flags',
      hint: 'Give the output of `cutover flags export`: { "format": "cutover-flags", "version": 1, "flags": [...] }.',
      details: { issues: [{ path: '$.flags', message: 'expected an array of flags' }] },
    });
  }
  const issues: { path: string; message: string }[] = [];
  const collect = <T>(at: string, parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!isCutoverError(error)) throw error;
      const inner = error.details?.issues;
      if (!Array.isArray(inner)) {
        issues.push({ path: at, message: error.message });
        return undefined;
      }
      for (const issue of inner as { path?: unknown; message?: unknown }[]) {
        const path = typeof issue.path === 'string' ? issue.path : '$';
        issues.push({
          path: `${at}${path.replace(/^\$/, '')}`,
          message: typeof issue.message === 'string' ? issue.message : String(issue.message),
        });
      }
      return undefined;
    }
  };
  const segments: Segment[] = [];
  const rawSegments: unknown = isObject && 'segments' in document ? document.segments : [];
  if (!Array.isArray(rawSegments)) {
    issues.push({ path: '$.segments', message: 'expected an array of segments' });
  } else {
    const ids = new Set<number>();
    rawSegments.forEach((item: unknown, index) => {
      const at = `$.segments[${index}]`;
      const segment = collect(at, () => parseSegment(item));
      if (segment === undefined) return;
      if (ids.has(segment.id))
        issues.push({ path: `${at}.id`, message: `duplicate id ${segment.id}` });
      ids.add(segment.id);
      segments.push(segment);
    });
  }
  const flags: Flag[] = [];
  const keys = new Set<string>();
  list.forEach((item: unknown, index) => {
    const at = `${prefix}[${index}]`;
    const flag = collect(at, () => parseFlag(item));
    if (flag === undefined) return;
    if (keys.has(flag.key))
      issues.push({ path: `${at}.key`, message: `duplicate key "${flag.key}"` });
    keys.add(flag.key);
    flags.push(flag);
  });
  if (issues.length > 0) {
    throw new CutoverError(
      'FLAG_INVALID',
      'config',
      `The import document has ${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was imported.`,
      {
        location: issues[0]?.path,
        hint: 'Fix each listed path and import again.',
        details: { issues },
      },
    );
  }
  return { flags, segments };
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

function toRecord(row: FlagRow): FlagRecord {
  return {
    flag: row.definition,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function toVersion(row: VersionRow): FlagVersion {
  return {
    key: row.key,
    version: row.version,
    action: row.action,
    flag: row.definition,
    actor: row.actor,
    reason: row.reason,
    revision: Number(row.revision),
    previousVersion: row.previous_version,
    operationId: row.operation_id,
    createdAt: row.created_at,
  };
}

function flagNotFound(key: string): CutoverError {
  return new CutoverError('FLAG_NOT_FOUND', 'not_found', `Flag "${key}" does not exist.`, {
    location: key,
    hint: 'List the flags with `cutover flags list` (or GET /api/admin/flags).',
  });
}

function versionNotFound(key: string, version: number): CutoverError {
  return new CutoverError(
    'FLAG_VERSION_NOT_FOUND',
    'not_found',
    `Flag "${key}" has no version ${version}.`,
    {
      location: `${key}@${version}`,
      hint: 'See its versions with `cutover flags history <key>`; version 0 means "absent".',
    },
  );
}

function schemaMissing(): CutoverError {
  return new CutoverError(
    'CONTROL_SCHEMA_MISSING',
    'config',
    'The flag tables of schema "cutover" do not exist in this database.',
    { hint: 'Create them with ensureControlSchema(pool) (every cutover command does it).' },
  );
}

function translateError(error: unknown): unknown {
  if (
    error instanceof Error &&
    (error as { code?: unknown }).code === '42P01' &&
    /cutover\./.test(error.message)
  ) {
    return schemaMissing();
  }
  return error;
}
