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
