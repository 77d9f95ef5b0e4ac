import { CutoverError } from '../errors/index.js';
import type { CheckpointEntry, HistoryEntry } from './history.js';
import { migrationKey } from './history.js';
import type { Migration, MigrationLayout } from './migration.js';
import type {
  MigrationStatusEntry,
  MigrationStatusReport,
  ValidationIssue,
  ValidationReport,
} from './migrator-types.js';
import { compareVersions } from './source-functions.js';

/**
 * A canonical key for a version such that two versions get the same key
 * exactly when `compareVersions` says they are equal: leading zeros of each
 * numeric part dropped and, for Flyway, `_` read as `.` and trailing `.0`
 * parts dropped (`1.0 == 1`). Lets status matching use a map instead of
 * comparing every file with every history row.
 */
export function versionKey(version: string, layout: MigrationLayout): string {
  if (!/^\d+(?:[._]\d+)*$/.test(version)) return `raw:${version}`;
  const parts = version.split(/[._]/).map((p) => p.replace(/^0+(?=\d)/, ''));
  if (layout !== 'flyway') return parts.length === 1 ? (parts[0] ?? version) : `raw:${version}`;
  while (parts.length > 1 && parts.at(-1) === '0') parts.pop();
  return parts.join('.');
}

/**
 * Merges the migration files with the history (pure): one entry per file and
 * per history row without a file, in version order (repeatables last, by name).
 * See {@link MigrationStatusEntry} for the states.
 */
export function computeStatus(
  migrations: readonly Migration[],
  history: readonly HistoryEntry[],
  checkpoints: readonly CheckpointEntry[],
  layout: MigrationLayout | undefined,
): MigrationStatusReport {
  const effectiveLayout: MigrationLayout = layout ?? migrations[0]?.layout ?? 'native';
  const key = (v: string): string => versionKey(v, effectiveLayout);
  const cmp = (a: string, b: string): number => compareVersions(a, b, effectiveLayout);

  const rowsByVersion = new Map<string, HistoryEntry>();
  const repeatableRows = new Map<string, HistoryEntry>();
  let baseline: string | undefined;
  let current: string | undefined;
  for (const row of history) {
    if (row.version === null) {
      repeatableRows.set(row.name, row);
      continue;
    }
    rowsByVersion.set(key(row.version), row);
    if (row.kind === 'baseline' && (baseline === undefined || cmp(row.version, baseline) > 0)) {
      baseline = row.version;
    }
    if (current === undefined || cmp(row.version, current) > 0) current = row.version;
  }
  const checkpointByKey = new Map(
    checkpoints.map((c) => [`${c.direction}:${c.migrationKey}`, c] as const),
  );
  const partialOf = (
    version: string | undefined,
    name: string,
    direction: 'up' | 'down',
  ): MigrationStatusEntry['partial'] => {
    const cp = checkpointByKey.get(`${direction}:${migrationKey(version, name)}`);
    return cp === undefined ? undefined : { direction, statementsDone: cp.statementsDone };
  };

  const versioned: MigrationStatusEntry[] = [];
  const repeatable: MigrationStatusEntry[] = [];
  const seenVersions = new Set<string>();
  const seenRepeatables = new Set<string>();

  for (const m of migrations) {
    const file = m.files[0];
    if (m.kind === 'repeatable' || m.version === undefined) {
      seenRepeatables.add(m.name);
      const row = repeatableRows.get(m.name);
      const entry: MigrationStatusEntry = {
        version: undefined,
        name: m.name,
        kind: 'repeatable',
        state: row === undefined || row.checksum !== m.checksum ? 'pending' : 'applied',
        ...(file === undefined ? {} : { file }),
        checksum: m.checksum,
        ...(row === undefined ? {} : rowFields(row)),
      };
      if (row !== undefined && row.checksum !== m.checksum) entry.changed = true;
      const partial = partialOf(undefined, m.name, 'up');
      if (partial !== undefined) entry.partial = partial;
      repeatable.push(entry);
      continue;
    }
    const k = key(m.version);
    seenVersions.add(k);
    const row = rowsByVersion.get(k);
    const entry: MigrationStatusEntry = {
      version: m.version,
      name: m.name,
      kind: 'versioned',
      state: 'pending',
      ...(file === undefined ? {} : { file }),
      checksum: m.checksum,
    };
    if (row !== undefined) {
      Object.assign(entry, rowFields(row));
      if (row.kind === 'baseline') {
        entry.state = 'baseline';
        entry.kind = 'baseline';
      } else {
        entry.state = row.checksum === m.checksum ? 'applied' : 'modified';
        const partial = partialOf(m.version, m.name, 'down');
        if (partial !== undefined) entry.partial = partial;
      }
    } else if (baseline !== undefined && cmp(m.version, baseline) <= 0) {
      entry.state = 'below-baseline';
    } else {
      if (current !== undefined && cmp(m.version, current) < 0) entry.outOfOrder = true;
      const partial = partialOf(m.version, m.name, 'up');
      if (partial !== undefined) entry.partial = partial;
    }
    versioned.push(entry);
  }

  for (const row of history) {
    if (row.version === null) {
      if (seenRepeatables.has(row.name)) continue;
      seenRepeatables.add(row.name);
      repeatable.push({
        version: undefined,
        name: row.name,
        kind: 'repeatable',
        state: 'missing',
        ...rowFields(row),
      });
      continue;
    }
    const k = key(row.version);
    if (seenVersions.has(k)) continue;
    seenVersions.add(k);
    versioned.push({
      version: row.version,
      name: row.name,
      kind: row.kind === 'baseline' ? 'baseline' : 'versioned',
      state: row.kind === 'baseline' ? 'baseline' : 'missing',
      ...rowFields(row),
    });
  }

  versioned.sort((a, b) => cmp(a.version ?? '', b.version ?? ''));
  repeatable.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { layout, current, migrations: [...versioned, ...repeatable] };
}

function rowFields(row: HistoryEntry): Partial<MigrationStatusEntry> {
  return {
    appliedChecksum: row.checksum,
    appliedAt: row.appliedAt,
    executionMs: row.executionMs,
    appliedBy: row.appliedBy,
    runId: row.runId,
    source: row.source,
  };
}

/** `0002 add_email` or `R__refresh_views` for messages. */
export function describeMigration(version: string | undefined, name: string): string {
  return version === undefined ? `repeatable ${name}` : `${version} ${name}`;
}

/**
 * The integrity problems of a status report: applied files that changed
 * (`modified`), applied migrations whose file is gone (`missing`), and pending
 * migrations older than the newest applied one (`out-of-order`, not reported
 * when `allowOutOfOrder`).
 */
export function validateStatus(
  report: MigrationStatusReport,
  options: { allowOutOfOrder?: boolean; dir?: string } = {},
): ValidationReport {
  const issues: ValidationIssue[] = [];
  for (const e of report.migrations) {
    const what = describeMigration(e.version, e.name);
    const file = e.file === undefined ? {} : { file: e.file };
    if (e.state === 'modified') {
      issues.push({
        kind: 'modified',
        version: e.version,
        name: e.name,
        message: `${what} was applied, but its file changed since (checksum ${short(e.appliedChecksum)} recorded, ${short(e.checksum)} now)`,
        ...file,
      });
    } else if (e.state === 'missing') {
      issues.push({
        kind: 'missing',
        version: e.version,
        name: e.name,
        message: `${what} was applied, but its file is gone`,
      });
    } else if (e.state === 'pending' && e.outOfOrder === true && options.allowOutOfOrder !== true) {
      issues.push({
        kind: 'out-of-order',
        version: e.version,
        name: e.name,
        message: `${what} is pending but older than the newest applied version ${report.current ?? ''}`,
        ...file,
      });
    }
  }
  if (issues.length === 0) return { ok: true, issues };
  const kinds = new Set(issues.map((i) => i.kind));
  const hints: string[] = [];
  if (kinds.has('modified')) {
    hints.push(
      'restore modified files as they were applied (put further changes in a new migration)',
    );
  }
  if (kinds.has('missing')) hints.push('restore the missing files');
  if (kinds.has('out-of-order')) {
    hints.push(
      `give out-of-order migrations a version newer than ${report.current ?? 'the newest applied'}, or allow them with --allow-out-of-order (config: migrations.allowOutOfOrder)`,
    );
  }
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  const error = new CutoverError(
    'MIGRATION_VALIDATION_FAILED',
    'validation',
    `The migration history does not match the files: ${first?.message ?? ''}${more}.`,
    {
      ...(first?.file !== undefined
        ? { location: first.file }
        : options.dir !== undefined
          ? { location: options.dir }
          : {}),
      hint: capitalize(hints.join('; ')) + '.',
      details: { issues },
    },
  );
  return { ok: false, issues, error };
}

function short(checksum: string | null | undefined): string {
  if (checksum === null || checksum === undefined) return 'none';
  return checksum.length > 12 ? `${checksum.slice(0, 12)}…` : checksum;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
