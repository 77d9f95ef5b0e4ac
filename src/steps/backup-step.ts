import { join } from 'node:path';
import { z } from 'zod';
import { createBackup, type FindPgToolsOptions, type PgTools } from '../data/index.js';
import type { StepKind } from './step-kind.js';

/** Spec of a `backup` step: `backup: {}`. */
export type BackupSpec = Record<string, never>;

/** Output of a `backup` step. */
export interface BackupOutput {
  /** Absolute path of the dump. */
  file: string;
  /** File name (what `cutover backup restore` takes). */
  name: string;
  bytes: number;
  /** Archive entries (`pg_restore --list`). */
  entries: number;
  durationMs: number;
}

/** Options of {@link createBackupStepKind}. */
export interface BackupStepKindOptions {
  /** The pg_dump/pg_restore to use, or where to look for them (default: PATH, /usr/lib/postgresql/*\/bin, …). */
  tools?: PgTools | FindPgToolsOptions;
}

/**
 * `backup: {}` — a full `pg_dump --format=custom` of the target database to
 * `<stateDir>/backups/` (`.cutover/backups/`), verified with
 * `pg_restore --list` (see `createBackup`). A resumed run reuses the backup of
 * the same run and step. No compensation: a backup is restored by hand with
 * `cutover backup restore <file>` (it would also undo unrelated writes made
 * since). Fails with `PG_DUMP_NOT_FOUND` / `PG_DUMP_TOO_OLD` (unavailable)
 * when the client tools are missing or older than the server.
 */
export function createBackupStepKind(
  options: BackupStepKindOptions = {},
): StepKind<BackupSpec, BackupOutput> {
  return {
    name: 'backup',
    schema: z.strictObject({}),
    describe(_spec, ctx) {
      return Promise.resolve({
        summary: `Dump the whole database with pg_dump --format=custom into ${join(ctx.stateDir, 'backups')} and verify it with pg_restore --list.`,
        compensation:
          'none: backups are restored by hand with `cutover backup restore <file>` (it would also undo unrelated writes)',
      });
    },
    async apply(_spec, ctx) {
      ctx.progress({ done: 0, total: 1, unit: 'backups' });
      const backup = await createBackup({
        databaseUrl: ctx.databaseUrl,
        dir: join(ctx.stateDir, 'backups'),
        runId: ctx.runId,
        stepId: ctx.stepId,
        signal: ctx.signal,
        clock: ctx.clock,
        ...(options.tools === undefined ? {} : { tools: options.tools }),
      });
      ctx.progress({ done: 1, total: 1, unit: 'backups' });
      const output: BackupOutput = {
        file: backup.file,
        name: backup.name,
        bytes: backup.bytes,
        entries: backup.entries ?? 0,
        durationMs: backup.durationMs ?? 0,
      };
      await ctx.log('backup.created', { ...output });
      return output;
    },
  };
}
