import type { ClusterStmt, RefreshMatViewStmt, VacuumStmt } from 'libpg-query';

import type { LockMode } from '../migration.js';
import { booleanOption, rangeVarName, rangeVars } from '../sql-ast.js';
import { finding, lockOn, type Finding } from './finding.js';

/** VACUUM / ANALYZE: SHARE UPDATE EXCLUSIVE; VACUUM FULL: ACCESS EXCLUSIVE and a rewrite. */
export function vacuum(s: VacuumStmt): Finding {
  const rels = rangeVars(s.rels).map((rv) => rangeVarName(rv));
  const full = s.is_vacuumcmd === true && booleanOption(s.options, 'full') === true;
  const name = s.is_vacuumcmd === true ? (full ? 'VACUUM FULL' : 'VACUUM') : 'ANALYZE';
  const mode: LockMode = full ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE';
  const notes = rels.length === 0 ? ['Processes every table of the database.'] : [];
  if (s.is_vacuumcmd === true) notes.push('Cannot run inside a transaction block.');
  return finding(
    name,
    rels.flatMap((t) => lockOn(t, mode)),
    {
      rewrites: full,
      scans: true,
      notes,
      ...(full
        ? {
            advice: [
              'VACUUM FULL rewrites the table under ACCESS EXCLUSIVE; prefer plain VACUUM, or pg_repack for online compaction.',
            ],
          }
        : {}),
    },
  );
}

/** CLUSTER: ACCESS EXCLUSIVE and a rewrite. */
export function cluster(s: ClusterStmt): Finding {
  const table = rangeVarName(s.relation);
  return finding('CLUSTER', lockOn(table, 'ACCESS EXCLUSIVE'), {
    rewrites: true,
    scans: true,
    notes:
      table === undefined
        ? ['Re-clusters every previously clustered table; cannot run inside a transaction block.']
        : [],
    advice: [
      'CLUSTER rewrites the table under ACCESS EXCLUSIVE; consider pg_repack for an online rewrite.',
    ],
  });
}

/** REFRESH MATERIALIZED VIEW: ACCESS EXCLUSIVE and a rewrite; CONCURRENTLY: EXCLUSIVE (reads continue). */
export function refreshMaterializedView(s: RefreshMatViewStmt): Finding {
  const view = rangeVarName(s.relation);
  if (s.concurrent === true) {
    return finding('REFRESH MATERIALIZED VIEW CONCURRENTLY', lockOn(view, 'EXCLUSIVE'), {
      scans: true,
      notes: ['Reads keep working during the refresh; needs a unique index on the view.'],
    });
  }
  return finding('REFRESH MATERIALIZED VIEW', lockOn(view, 'ACCESS EXCLUSIVE'), {
    rewrites: true,
    scans: true,
    advice: [
      'Use REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view) so reads keep working.',
    ],
  });
}
