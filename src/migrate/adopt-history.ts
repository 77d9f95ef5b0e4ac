import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
import { versionKey } from './migration-status.js';
import type { Migration, MigrationLayout } from './migration.js';

/** A tool whose history cutover can adopt. */
export type AdoptTool = 'prisma' | 'flyway';

/** One history entry imported (or found already present). */
export interface AdoptedEntry {
  version: string | undefined;
  name: string;
  /** How it compares with the local files: same file, changed file, or no file. */
  match: 'same' | 'modified' | 'missing';
}

/** What `adopt` did. */
export interface AdoptResult {
  tool: AdoptTool;
  /** Entries written into cutover's history. */
  adopted: AdoptedEntry[];
  /** Entries cutover's history already had. */
  alreadyPresent: AdoptedEntry[];
  /** Rows of the tool's table not imported, with the reason (failed, rolled back, undone…). */
  ignored: { name: string; reason: string }[];
  /** Baseline version taken from the tool's history (Flyway `BASELINE` row), if any. */
  baseline?: string;
  error?: CutoverError;
}

interface AdoptRow {
  version: string | null;
  name: string;
  kind: 'versioned' | 'repeatable' | 'baseline';
  checksum: string | null;
  appliedAt: Date;
  executionMs: number;
  appliedBy: string;
  match: AdoptedEntry['match'];
}

/**
 * Prisma's checksum test (prisma-engines `checksum.rs`,
 * `script_matches_checksum`): sha256 of the migration.sql text, with its line
 * endings as they are, or converted CRLF→LF or LF→CRLF; hex, zero-padded —
 * or, for rows written by old Prisma versions (length ≠ 64), each byte as
 * unpadded hex.
 */
export function prismaChecksumMatches(script: string, checksum: string): boolean {
  const variants = [script, script.replace(/\r\n/g, '\n'), script.replace(/\n/g, '\r\n')];
  return variants.some((text) => {
    const digest = createHash('sha256').update(text, 'utf8').digest();
    const formatted =
      checksum.length !== 64 && checksum.length > 0
        ? [...digest].map((b) => b.toString(16)).join('')
        : digest.toString('hex');
    return formatted === checksum;
  });
}

/**
 * Flyway's checksum of a SQL file (`ChecksumCalculator`): CRC32 over the
 * UTF-8 bytes of each line without its line break (a leading BOM removed),
 * as a signed 32-bit integer.
 */
export function flywayChecksum(script: string): number {
  const text = script.startsWith('\ufeff') ? script.slice(1) : script;
  const crc = crc32(Buffer.from(text.replace(/\r\n|\r|\n/g, ''), 'utf8'));
  return crc | 0;
}

/** Reads the tool's table and writes cutover history rows (one transaction). */
export async function adoptHistory(
  db: pg.Pool,
  tool: AdoptTool,
  migrations: readonly Migration[],
  layout: MigrationLayout,
  options: { appliedBy: string; runId: string | null },
): Promise<AdoptResult> {
  const table = tool === 'prisma' ? '_prisma_migrations' : 'flyway_schema_history';
  const { rows: found } = await db.query<{ oid: string | null }>(
    'select to_regclass($1)::text as oid',
    [table],
  );
  if (found[0]?.oid === null || found[0]?.oid === undefined) {
    throw new CutoverError(
      'ADOPT_SOURCE_NOT_FOUND',
      'not_found',
      `There is no ${table} table in this database (searched the schemas of search_path), so there is no ${tool === 'prisma' ? 'Prisma' : 'Flyway'} history to adopt.`,
      {
        hint:
          tool === 'prisma'
            ? 'Point --database-url at the database Prisma Migrate manages.'
            : 'Point --database-url at the database Flyway manages (and put its schema on search_path, e.g. ?options=-csearch_path%3Dmy_schema).',
      },
    );
  }
  const ignored: AdoptResult['ignored'] = [];
  let baseline: string | undefined;
  const rows =
    tool === 'prisma'
      ? await readPrisma(db, migrations, layout, ignored)
      : await readFlyway(db, migrations, layout, ignored, (v) => (baseline = v));

  const adopted: AdoptedEntry[] = [];
  const alreadyPresent: AdoptedEntry[] = [];
  const client = await db.connect();
  try {
    await client.query('begin');
    for (const row of rows) {
      const { rowCount } = await client.query(
        `insert into cutover.schema_migrations
           (version, name, kind, checksum, applied_at, execution_ms, applied_by, run_id, source)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict do nothing`,
        [
          row.version,
          row.name,
          row.kind,
          row.checksum,
          row.appliedAt,
          Math.max(0, Math.round(row.executionMs)),
          row.appliedBy,
          options.runId,
          row.kind === 'baseline' ? 'baseline' : tool,
        ],
      );
      const entry = { version: row.version ?? undefined, name: row.name, match: row.match };
      if (row.kind === 'baseline') continue;
      (rowCount === 1 ? adopted : alreadyPresent).push(entry);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  return {
    tool,
    adopted,
    alreadyPresent,
    ignored,
    ...(baseline === undefined ? {} : { baseline }),
  };
}

async function readPrisma(
  db: pg.Pool,
  migrations: readonly Migration[],
  layout: MigrationLayout,
  ignored: AdoptResult['ignored'],
): Promise<AdoptRow[]> {
  const { rows } = await db.query<{
    migration_name: string;
    checksum: string;
    started_at: Date;
    finished_at: Date | null;
    rolled_back_at: Date | null;
    logs: string | null;
  }>(
    `select migration_name, checksum, started_at, finished_at, rolled_back_at, logs
       from _prisma_migrations order by started_at, migration_name`,
  );
  const byKey = localVersioned(migrations, layout);
  const applied = new Map<string, AdoptRow>();
  for (const r of rows) {
    if (r.rolled_back_at !== null) {
      ignored.push({ name: r.migration_name, reason: 'rolled back' });
      continue;
    }
    if (r.finished_at === null) {
      ignored.push({ name: r.migration_name, reason: 'failed or unfinished' });
      continue;
    }
    const match = /^(\d+)_(.*)$/.exec(r.migration_name);
    if (match === null) {
      ignored.push({ name: r.migration_name, reason: 'name has no <timestamp>_ prefix' });
      continue;
    }
    const version = match[1] as string;
    const local = byKey.get(versionKey(version, layout));
    const text = local?.up.type === 'sql' ? local.up.fileText : undefined;
    const same = text !== undefined && prismaChecksumMatches(text, r.checksum);
    applied.set(versionKey(version, layout), {
      version,
      name: local?.name ?? (match[2] as string),
      kind: 'versioned',
      checksum: same && local !== undefined ? local.checksum : `prisma:${r.checksum}`,
      appliedAt: r.finished_at,
      executionMs: r.finished_at.getTime() - r.started_at.getTime(),
      appliedBy: 'prisma',
      match: local === undefined ? 'missing' : same ? 'same' : 'modified',
    });
  }
  return [...applied.values()];
}

async function readFlyway(
  db: pg.Pool,
  migrations: readonly Migration[],
  layout: MigrationLayout,
  ignored: AdoptResult['ignored'],
  setBaseline: (version: string) => void,
): Promise<AdoptRow[]> {
  const { rows } = await db.query<{
    installed_rank: number;
    version: string | null;
    description: string;
    type: string;
    script: string;
    checksum: number | null;
    installed_by: string;
    installed_on: Date;
    execution_time: number;
    success: boolean;
  }>(
    `select installed_rank, version, description, type, script, checksum, installed_by,
            installed_on, execution_time, success
       from flyway_schema_history order by installed_rank`,
  );
  const byKey = localVersioned(migrations, layout);
  const repeatables = new Map(
    migrations.filter((m) => m.kind === 'repeatable').map((m) => [m.name, m] as const),
  );
  const versioned = new Map<string, AdoptRow>();
  const repeatable = new Map<string, AdoptRow>();
  let baselineRow: AdoptRow | undefined;
  for (const r of rows) {
    const label = r.version === null ? r.script : `${r.version} ${r.description}`;
    if (!r.success) {
      ignored.push({ name: label, reason: 'failed' });
      continue;
    }
    const type = r.type.toUpperCase();
    if (type === 'SCHEMA') continue; // Flyway's "schema created" marker
    if (type === 'BASELINE') {
      if (r.version !== null) {
        baselineRow = {
          version: r.version,
          name: r.description.replace(/\s+/g, '_') || 'baseline',
          kind: 'baseline',
          checksum: null,
          appliedAt: r.installed_on,
          executionMs: 0,
          appliedBy: r.installed_by,
          match: 'same',
        };
        setBaseline(r.version);
      }
      continue;
    }
    if (type.startsWith('UNDO') || type === 'DELETE') {
      if (r.version !== null) versioned.delete(versionKey(r.version, layout));
      else repeatable.delete(repeatableName(r.script, r.description));
      ignored.push({
        name: label,
        reason: type === 'DELETE' ? 'deleted by flyway repair' : 'undone',
      });
      continue;
    }
    if (r.version === null) {
      const name = repeatableName(r.script, r.description);
      const local = repeatables.get(name);
      const text = local?.up.type === 'sql' ? local.up.fileText : undefined;
      const same = text !== undefined && r.checksum !== null && flywayChecksum(text) === r.checksum;
      repeatable.set(name, {
        version: null,
        name,
        kind: 'repeatable',
        checksum: same && local !== undefined ? local.checksum : `flyway:${r.checksum ?? 'none'}`,
        appliedAt: r.installed_on,
        executionMs: r.execution_time,
        appliedBy: r.installed_by,
        match: local === undefined ? 'missing' : same ? 'same' : 'modified',
      });
      continue;
    }
    const key = versionKey(r.version, layout);
    const local = byKey.get(key);
    const text = local?.up.type === 'sql' ? local.up.fileText : undefined;
    const same = text !== undefined && r.checksum !== null && flywayChecksum(text) === r.checksum;
    versioned.set(key, {
      version: r.version,
      name: local?.name ?? r.description.replace(/\s+/g, '_'),
      kind: 'versioned',
      checksum: same && local !== undefined ? local.checksum : `flyway:${r.checksum ?? 'none'}`,
      appliedAt: r.installed_on,
      executionMs: r.execution_time,
      appliedBy: r.installed_by,
      match: local === undefined ? 'missing' : same ? 'same' : 'modified',
    });
  }
  return [
    ...(baselineRow === undefined ? [] : [baselineRow]),
    ...versioned.values(),
    ...repeatable.values(),
  ];
}

/** `R__refresh_views.sql` → `refresh_views` (the name cutover's Flyway source gives repeatables). */
function repeatableName(script: string, description: string): string {
  const m = /^R__(.+)\.sql$/i.exec(script.split('/').at(-1) ?? script);
  return m?.[1] ?? description.replace(/\s+/g, '_');
}

function localVersioned(
  migrations: readonly Migration[],
  layout: MigrationLayout,
): Map<string, Migration> {
  return new Map(
    migrations
      .filter(
        (m): m is Migration & { version: string } =>
          m.kind === 'versioned' && m.version !== undefined,
      )
      .map((m) => [versionKey(m.version, layout), m] as const),
  );
}
