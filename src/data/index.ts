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
export {
  estimateBackfillRows,
  isBackfillModule,
  memoryCheckpoint,
  planBackfill,
  revertBackfill,
  runBackfill,
} from './backfill.js';
export type {
  BackfillBatchContext,
  BackfillBatchStats,
  BackfillCursor,
  BackfillModule,
  BackfillOptions,
  BackfillPlan,
  BackfillProgress,
  BackfillResult,
  BackfillSource,
  InlineBackfill,
} from './backfill.js';
export {
  backfillModuleSchema,
  loadBackfillModule,
  parseBackfillModule,
} from './backfill-module.js';
export { createBatchSizer } from './batch-sizer.js';
export type { BatchSizer, BatchSizerOptions } from './batch-sizer.js';
export {
  assertVerificationPassed,
  compareCheckSchema,
  countsCheckSchema,
  runVerification,
  sqlCheckSchema,
  verificationCheckSchema,
  verificationChecksSchema,
} from './verification.js';
export type {
  VerificationCheckResult,
  CompareCheck,
  CountsCheck,
  KeyDifference,
  CheckSeverity,
  SqlCheck,
  VerificationCheck,
  VerificationOptions,
  VerificationReport,
} from './verification.js';
