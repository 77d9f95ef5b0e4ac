import type { ErrorCategory } from '../errors/index.js';

/**
 * Documented exit codes of the `cutover` command (see README, "Exit codes").
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | success |
 * | 1 | failed: the operation ran and failed (a migration, a step), or an internal error |
 * | 2 | usage or configuration error: bad flag, bad plan/config/migration file, bad URL |
 * | 3 | validation failed (e.g. `migrate validate`, a critical verification) |
 * | 4 | busy: a lock or lease is held by another process |
 * | 5 | unavailable: the database (or a required tool such as pg_dump) cannot be reached |
 * | 6 | not found: a named run, flag, version or snapshot does not exist |
 * | 7 | refused: not allowed now (e.g. rollback past a point of no return), or not authorized |
 * | 130 | interrupted (Ctrl-C); the operation stopped at a safe point |
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  validation: 3,
  busy: 4,
  unavailable: 5,
  notFound: 6,
  refused: 7,
  interrupted: 130,
} as const;

/** Exit code for an error category. */
export function exitCodeFor(category: ErrorCategory): number {
  switch (category) {
    case 'usage':
    case 'config':
      return EXIT.usage;
    case 'validation':
      return EXIT.validation;
    case 'busy':
      return EXIT.busy;
    case 'unavailable':
      return EXIT.unavailable;
    case 'not_found':
      return EXIT.notFound;
    case 'refused':
    case 'unauthorized':
    case 'forbidden':
      return EXIT.refused;
    case 'failed':
      return EXIT.failed;
  }
}
