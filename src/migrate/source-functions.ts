/**
 * TEMPORARY single import point for the functions the `mig-src` branch
 * provides (loadMigrations, detectLayout, compareVersions,
 * mapServerErrorPosition, analyzeStatement). Until that branch is merged,
 * minimal stand-ins keep this branch compiling; on merge this file becomes
 * plain re-exports.
 */
import type { Migration, MigrationLayout, SqlStatement, StatementAnalysis } from './migration.js';

/** Stand-in: numeric comparison of dotted versions (replaced by mig-src's on merge). */
export function compareVersions(a: string, b: string, _layout: MigrationLayout): number {
  const pa = a.split(/[._]/).map((p) => BigInt(/^\d+$/.test(p) ? p : '0'));
  const pb = b.split(/[._]/).map((p) => BigInt(/^\d+$/.test(p) ? p : '0'));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0n;
    const y = pb[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Stand-in (replaced by mig-src's on merge). */
export function isValidVersion(version: string, layout: MigrationLayout): boolean {
  return (layout === 'flyway' ? /^\d+(?:[._]\d+)*$/ : /^\d+$/).test(version);
}

/** Stand-in (replaced by mig-src's on merge). */
export function mapServerErrorPosition(
  statement: SqlStatement,
  fileText: string,
  position: number,
): { line: number; column: number } {
  const offset = statement.offset + Math.max(0, position - 1);
  const before = fileText.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/** Stand-in (replaced by mig-src's on merge). */
export function analyzeStatement(_statement: SqlStatement): StatementAnalysis {
  return { lock: 'ACCESS EXCLUSIVE', rewrites: false, tables: [], blocks: 'unknown' };
}

/** Stand-in (replaced by mig-src's on merge). */
export function loadMigrations(
  _dir: string,
  _options: { layout?: MigrationLayout } = {},
): Promise<Migration[]> {
  return Promise.reject(new Error('loadMigrations: the mig-src branch is not merged yet'));
}

/** Stand-in (replaced by mig-src's on merge). */
export function detectLayout(_fileNames: readonly string[]): MigrationLayout | undefined {
  return undefined;
}
