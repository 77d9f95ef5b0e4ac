import { createBackfillStepKind } from './backfill-step.js';
import { createBackupStepKind, type BackupStepKindOptions } from './backup-step.js';
import { createSnapshotStepKind } from './snapshot-step.js';
import type { StepKind } from './step-kind.js';
import { createVerifyStepKind } from './verify-step.js';

/** Options of {@link dataStepKinds}. */
export interface DataStepKindsOptions {
  /** Options of the `backup` kind (where to find pg_dump). */
  backup?: BackupStepKindOptions;
}

/**
 * The data step kinds: `snapshot`, `backup`, `backfill`, `verify`. Register
 * them with the others: `createStepKindRegistry([...defaultStepKinds(), ...dataStepKinds()])`.
 */
export function dataStepKinds(options: DataStepKindsOptions = {}): StepKind<never, unknown>[] {
  return [
    createSnapshotStepKind(),
    createBackupStepKind(options.backup),
    createBackfillStepKind(),
    createVerifyStepKind(),
  ] as StepKind<never, unknown>[];
}
