import type { Flag, Segment } from './model.js';
import type { FlagPatch, TagFilter } from './flag-mutations.js';

/**
 * Who makes a change and why. Every change of a {@link FlagAdmin} takes one;
 * both land in the flag's version history and in the audit log
 * (`cutover.flag_events`).
 */
export interface ChangeMeta {
  /** Who: a token name (`cutover serve`), a user name (CLI), `run:<id>` (plan runner). Non-empty. */
  actor: string;
  /** Why, free text (e.g. `plan dashboard-v2, phase rollout`). Optional. */
  reason?: string | undefined;
  /**
   * Idempotency key (e.g. `run:<id>:<step>`), recorded with the version. A
   * change whose `operationId` is already recorded for that flag is not
   * applied again: the recorded change is returned (`changed: false`, its
   * `version` and `previousVersion`), so a step that crashed after committing
   * and re-applies still learns the version to restore. Optional; at most 200
   * characters.
   */
  operationId?: string | undefined;
}

/** {@link ChangeMeta} plus the environment a change addresses. */
export interface EnvironmentChangeMeta extends ChangeMeta {
  /**
   * The environment to change (`production`, …). Undefined = every
   * environment the flag defines (the flag must define at least one).
   */
  env?: string | undefined;
}

/** What a change did. */
export type FlagAction =
  | 'create'
  | 'update'
  | 'delete'
  | 'set-rollout'
  | 'enable'
  | 'disable'
  | 'restore'
  | 'import'
  | 'patch';

/**
 * The result of one change of one flag.
 *
 * Versions count from 1 per key; **version 0 means "the flag does not
 * exist"** (never created, or deleted), so `previousVersion` can always be
 * handed back to {@link FlagAdmin.restoreVersion} to undo the change exactly.
 */
export interface FlagChange {
  key: string;
  action: FlagAction;
  /** The definition after the change; null when the flag was deleted. */
  flag: Flag | null;
  /** The flag's version after the change (a new one when `changed`, else the current one; 0 = absent). */
  version: number;
  /** The version before the change; 0 when the flag did not exist. */
  previousVersion: number;
  /**
   * False when the definition already was what the change asked for: nothing
   * was written (no version, no audit entry, no notification). Re-applying a
   * change is therefore idempotent.
   */
  changed: boolean;
  /** The global flag revision after the change (unchanged when `changed` is false). */
  revision: number;
  /** Environments whose client payload (`/api/client/features`) changed. */
  environments: string[];
}

/** A flag as stored now. */
export interface FlagRecord {
  flag: Flag;
  /** Current version (≥ 1). */
  version: number;
  /** When the flag was (last) created. */
  createdAt: Date;
  updatedAt: Date;
  /** Actor of the latest version. */
  updatedBy: string;
}

/** One entry of a flag's history (`cutover.flag_versions`). */
export interface FlagVersion {
  key: string;
  version: number;
  action: FlagAction;
  /** The definition as of this version; null for a deletion. */
  flag: Flag | null;
  actor: string;
  reason: string | null;
  /** Global revision of the change. */
  revision: number;
  /** The version this one was made from (0: the flag did not exist). */
  previousVersion: number;
  /** The change's idempotency key, if it had one. */
  operationId: string | null;
  createdAt: Date;
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

/** The result of a segment change. */
export interface SegmentChange {
  id: number;
  /** The segment after the change; null when deleted. */
  segment: Segment | null;
  /** False when the segment already was as asked (nothing written). */
  changed: boolean;
  /** The global flag revision after the change. */
  revision: number;
}

/**
 * The export document (`cutover flags export`, `GET /api/admin/export`):
 * `{ format: 'cutover-flags', version: 1, exportedAt, flags, segments }`,
 * flags sorted by key, segments by id.
 */
export interface FlagExport {
  format: 'cutover-flags';
  version: 1;
  /** ISO date-time. */
  exportedAt: string;
  flags: Flag[];
  segments: Segment[];
}

/** Options of {@link FlagAdmin.import}. */
export interface ImportOptions extends ChangeMeta {
  /**
   * `merge` (default): create or update the flags of the document, leave the
   * others. `replace`: also delete every flag the document does not list.
   */
  mode?: 'merge' | 'replace' | undefined;
}

/** Filter of {@link FlagAdmin.list}. */
export interface ListFilter {
  /** Only flags with this tag (e.g. `{ name: 'category', value: 'migration' }`). */
  tag?: TagFilter | undefined;
}

/**
 * Managing flags: what the admin API, the CLI and the plan runner's `flag`
 * step use. Implemented on PostgreSQL by `createFlagStore` and over HTTP by
 * `createFlagAdminClient` (a `cutover serve` admin API).
 *
 * Every change is atomic (one transaction: the definition, its version, the
 * per-environment revisions, the audit entry and the LISTEN/NOTIFY message on
 * channel `cutover_flags` commit together), validated before anything is
 * written, and a no-op (`changed: false`) when the flag already is as asked.
 *
 * Errors (CutoverError): `FLAG_INVALID` (config, `details.issues: [{ path,
 * message }]`), `FLAG_NOT_FOUND` / `FLAG_VERSION_NOT_FOUND` (not_found),
 * `FLAG_EXISTS` (refused), `FLAG_KEY_MISMATCH`, `FLAG_ROLLOUT_INVALID`,
 * `FLAG_ENVIRONMENT_INVALID`, `FLAG_ENVIRONMENT_REQUIRED`, `FLAG_TAG_INVALID`,
 * `FLAG_ACTOR_REQUIRED` (config), `DATABASE_UNREACHABLE` (unavailable).
 */
export interface FlagAdmin {
  /** Every flag (sorted by key), optionally only those with a tag. */
  list(filter?: ListFilter): Promise<FlagRecord[]>;
  /** One flag. @throws `FLAG_NOT_FOUND` */
  get(key: string): Promise<FlagRecord>;
  /**
   * Creates a flag from an unknown input (validated with `parseFlag`).
   * A key that existed before and was deleted continues its version numbers.
   * @throws `FLAG_INVALID`, `FLAG_EXISTS`
   */
  create(input: unknown, meta: ChangeMeta): Promise<FlagChange>;
  /**
   * Replaces the whole definition of `key` (the input's `key` must equal it).
   * @throws `FLAG_INVALID`, `FLAG_KEY_MISMATCH`, `FLAG_NOT_FOUND`
   */
  update(key: string, input: unknown, meta: ChangeMeta): Promise<FlagChange>;
  /** Deletes a flag (its history stays). @throws `FLAG_NOT_FOUND` */
  delete(key: string, meta: ChangeMeta): Promise<FlagChange>;
  /**
   * Sets the rollout percentage (integer 0..100) in `meta.env` or every
   * environment of the flag; see `withRollout` for the exact rule (every
   * `flexibleRollout` strategy gets the percentage; without one, one is
   * added). Does not change `enabled`.
   * @throws `FLAG_NOT_FOUND`, `FLAG_ROLLOUT_INVALID`, `FLAG_ENVIRONMENT_REQUIRED`
   */
  setRollout(key: string, percent: number, meta: EnvironmentChangeMeta): Promise<FlagChange>;
  /**
   * Sets any of `rollout`, `users` (the `userWithId` list) and `enabled` of
   * the flag in `meta.env` (or every environment of the flag) as ONE change —
   * one version to restore. What the plan's `flag` step calls:
   * `patch(key, { rollout: 5 }, { env, actor: 'run:…', operationId })`, and
   * to compensate `restoreVersion(key, change.previousVersion, meta)`.
   * See `withPatch` / `withRollout` / `withUsers` / `withEnabled` for the rules.
   * @throws `FLAG_NOT_FOUND`, `FLAG_PATCH_EMPTY`, `FLAG_ROLLOUT_INVALID`, `FLAG_USERS_INVALID`, `FLAG_ENVIRONMENT_REQUIRED`
   */
  patch(key: string, patch: FlagPatch, meta: EnvironmentChangeMeta): Promise<FlagChange>;
  /** Turns the flag on in `meta.env` or every environment of the flag. @throws `FLAG_NOT_FOUND` */
  enable(key: string, meta: EnvironmentChangeMeta): Promise<FlagChange>;
  /** Kill switch: turns the flag off in `meta.env` or every environment. @throws `FLAG_NOT_FOUND` */
  disable(key: string, meta: EnvironmentChangeMeta): Promise<FlagChange>;
  /**
   * Kill switch for a group, in one transaction: disables every flag carrying
   * `tag` (in `meta.env`, or in every environment of each flag). Returns one
   * change per tagged flag (`changed: false` for those already off); an empty
   * list when no flag carries the tag.
   */
  disableByTag(tag: TagFilter, meta: EnvironmentChangeMeta): Promise<FlagChange[]>;
  /** The versions of `key`, newest first (also after a delete). @throws `FLAG_NOT_FOUND` when it never existed */
  history(key: string, options?: { limit?: number | undefined }): Promise<FlagVersion[]>;
  /**
   * Makes the flag exactly what it was at `version` (as a new version with
   * action `restore`); version 0, or a version that recorded a deletion,
   * deletes the flag (a no-op if it is absent). This is the compensation of
   * the plan's `flag` step: `restoreVersion(key, change.previousVersion, meta)`.
   * @throws `FLAG_VERSION_NOT_FOUND`
   */
  restoreVersion(key: string, version: number, meta: ChangeMeta): Promise<FlagChange>;
  /** Every flag as an {@link FlagExport} document. */
  export(): Promise<FlagExport>;
  /**
   * Imports an {@link FlagExport} document (or `{ flags: [...], segments?:
   * [...] }`, or an array of flags) in one transaction: segments first
   * (created or replaced), then flags. Everything is validated first and all
   * problems are reported together (`FLAG_INVALID`, paths like
   * `$.flags[2].environments.production.strategies[0].name`); nothing is
   * written unless all are valid. Returns one change per flag (and per
   * deletion in `replace` mode, which deletes flags only, not segments).
   */
  import(document: unknown, options: ImportOptions): Promise<FlagChange[]>;
  /** Every segment (reusable constraint sets referenced by strategies' `segments`), by id. */
  listSegments(): Promise<Segment[]>;
  /**
   * Creates or replaces the segment with the input's `id` (validated with
   * `parseSegment`). Segments are sent to every environment, so every
   * environment's revision moves.
   * @throws `FLAG_INVALID`
   */
  putSegment(input: unknown, meta: ChangeMeta): Promise<SegmentChange>;
  /**
   * Deletes a segment.
   * @throws `SEGMENT_NOT_FOUND` (not_found), `SEGMENT_IN_USE` (refused) while a flag references it
   */
  deleteSegment(id: number, meta: ChangeMeta): Promise<SegmentChange>;
}
