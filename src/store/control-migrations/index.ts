import { migration0001 } from './0001-schema-migrations.js';
import { migration0002 } from './0002-runs.js';
import { migration0003 } from './0003-flags.js';
import type { ControlMigration } from './control-migration.js';

export type { ControlMigration } from './control-migration.js';

/**
 * cutover's internal migrations of the `cutover` schema, in ascending version
 * order. To add one: create `NNNN-name.ts` exporting a {@link ControlMigration}
 * and append it here (one import, one entry).
 */
export const CONTROL_MIGRATIONS: readonly ControlMigration[] = [
  migration0001,
  migration0002,
  migration0003,
];
