export {
  SNAPSHOT_SCHEMA,
  dropSnapshot,
  ensureSnapshotSchema,
  findCoveredTable,
  getSnapshot,
  listSnapshots,
  restoreSnapshot,
  takeSnapshot,
} from './snapshots.js';
export type {
  RestoreSnapshotOptions,
  RestoreSnapshotResult,
  SnapshotInfo,
  SnapshotSequence,
  SnapshotTable,
  TakeSnapshotOptions,
  TakeSnapshotResult,
} from './snapshots.js';
export { quoteIdent, resolveTable } from './identifiers.js';
export type { TableRef } from './identifiers.js';
export {
  CUTOVER_SCHEMAS,
  createBackup,
  listBackups,
  restoreBackup,
  tocLineInSchemas,
} from './backups.js';
export type {
  BackupInfo,
  CreateBackupOptions,
  ListBackupsOptions,
  RestoreBackupOptions,
  RestoreBackupResult,
} from './backups.js';
export { defaultPgToolDirs, findPgTools, parsePgVersion } from './pg-tools.js';
export type { FindPgToolsOptions, PgTools, PgVersion } from './pg-tools.js';
