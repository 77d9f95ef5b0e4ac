import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
import { runChangeBatch, type ChangeBatch } from './change-batch.js';
import {
  flagHasTag,
  patchFields,
  withEnabled,
  withPatch,
  withRollout,
  type FlagPatch,
  type TagFilter,
} from './flag-mutations.js';
import {
  toEvent,
  toRecord,
  toVersion,
  type EventRow,
  type FlagRow,
  type VersionRow,
} from './flag-rows.js';
import { readFlagSnapshot, type FlagSnapshot } from './flag-snapshot.js';
import { flagNotFound, versionNotFound } from './flag-store-errors.js';
import type {
  ChangeMeta,
  EnvironmentChangeMeta,
  FlagAdmin,
  FlagChange,
  FlagEvent,
  FlagExport,
  FlagRecord,
  FlagVersion,
  ImportOptions,
  ListFilter,
  SegmentChange,
} from './flag-store-types.js';
import type { Flag, Segment } from './model.js';
import { parseFlag, parseSegment } from './parse-flag.js';
import { parseImportDocument } from './parse-import-document.js';

export { FLAG_CHANNEL, type FlagNotification } from './flag-notification.js';
export { environmentRevision, type FlagSnapshot } from './flag-snapshot.js';
export type { FlagEvent } from './flag-store-types.js';

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
        { env: meta.env ?? null, ...patchFields(patch) },
      ),
    );
  }

  async enable(key: string, meta: EnvironmentChangeMeta): Promise<FlagChange> {
    return this.setEnabled(key, true, meta);
  }

  async disable(key: string, meta: EnvironmentChangeMeta): Promise<FlagChange> {
    return this.setEnabled(key, false, meta);
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
    return readFlagSnapshot(this.pool);
  }

  async events(
    options: { key?: string | undefined; limit?: number | undefined } = {},
  ): Promise<FlagEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `select * from cutover.flag_events where ($1::text is null or flag_key = $1)
        order by id desc limit $2`,
      [options.key ?? null, options.limit ?? 100],
    );
    return rows.map(toEvent);
  }

  /** {@link enable} (`enabled` true) or {@link disable}. */
  private async setEnabled(
    key: string,
    enabled: boolean,
    meta: EnvironmentChangeMeta,
  ): Promise<FlagChange> {
    return this.single((batch) =>
      batch.apply(
        key,
        enabled ? 'enable' : 'disable',
        requireExisting(key, (flag) => withEnabled(flag, enabled, meta.env)),
        meta,
        { env: meta.env ?? null },
      ),
    );
  }

  private async single(run: (batch: ChangeBatch) => Promise<FlagChange>): Promise<FlagChange> {
    return this.batch((batch) => run(batch));
  }

  /** See {@link runChangeBatch}. */
  private async batch<T>(
    run: (batch: ChangeBatch, client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    return runChangeBatch(this.pool, this.now, run);
  }
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
