/**
 * The migration engine: sources (the layouts people already have), SQL
 * splitting and analysis with the PostgreSQL parser, checksums, positions.
 */
export type {
  LockMode,
  Migration,
  MigrationClient,
  MigrationLayout,
  MigrationScript,
  MigrationSource,
  SqlScript,
  SqlStatement,
  StatementAnalysis,
  TableLock,
  TypeScriptScript,
} from './migration.js';
export {
  LAYOUT_PATTERNS,
  MIGRATION_LAYOUTS,
  detectLayout,
  detectLayouts,
  loadMigrations,
  migrationSource,
} from './load-migrations.js';
export type { LoadMigrationsOptions } from './load-migrations.js';
export { compareVersions, isValidVersion } from './compare-versions.js';
export { checksumOf, normalizeMigrationText } from './checksum.js';
export {
  loadSqlParser,
  nonTransactionalReason,
  parseSql,
  splitStatements,
} from './split-statements.js';
export {
  codePointIndexToOffset,
  mapServerErrorPosition,
  offsetToLineColumn,
  utf8ByteOffsetMapper,
} from './text-position.js';
export type { LineColumn } from './text-position.js';
export { listMigrationDir } from './sources/source-support.js';
export { NativeMigrationSource, parseNativeFile } from './sources/native-source.js';
export { GolangMigrateSource } from './sources/golang-migrate-source.js';
export { FlywaySource } from './sources/flyway-source.js';
export { PrismaSource } from './sources/prisma-source.js';
export { TypeScriptSource, importTypeScriptMigration } from './sources/typescript-source.js';
export type { MigrationFunction, TypeScriptMigrationModule } from './sources/typescript-source.js';
export {
  LOCK_MODES,
  analyzeStatement,
  describeLockMode,
  strongerLock,
} from './analyze-statement.js';

// The migrator (executor): history, locking, safe execution, adoption.
export { Migrator } from './migrator.js';
export type { BaselineResult, DownOptions, MigratorOptions, UpOptions } from './migrator.js';
export type * from './migrator-types.js';
export type { AdoptResult, AdoptTool, AdoptedEntry } from './adopt-history.js';
export { flywayChecksum, prismaChecksumMatches } from './adopt-history.js';
export type { CreatedMigration } from './create-migration.js';
export { MIGRATION_LOCK_KEY, findLockHolders } from './migration-lock.js';
export { findBlockingSessions } from './blocking-sessions.js';
