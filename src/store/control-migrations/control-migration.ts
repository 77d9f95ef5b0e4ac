/**
 * One internal migration of cutover's own control schema (`cutover`). These
 * are not user migrations: they ship with cutover and are applied by
 * {@link ensureControlSchema} in version order, each exactly once, recorded in
 * `cutover.control_schema_migrations`.
 *
 * Invariants: versions are unique positive integers, listed in ascending order
 * in `control-migrations/index.ts`; a shipped migration is never edited (add a
 * new one instead); `sql` may hold several statements and runs in one
 * transaction, so it must not use statements that cannot run in a transaction
 * block.
 */
export interface ControlMigration {
  /** Positive integer, the `NNNN` of the file name. */
  readonly version: number;
  /** Short kebab-case name, the rest of the file name (`schema-migrations`). */
  readonly name: string;
  /** The DDL to run (several statements allowed). Objects live in schema `cutover`. */
  readonly sql: string;
}
