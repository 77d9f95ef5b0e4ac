/**
 * Volatility of column default expressions: whether ADD COLUMN … DEFAULT
 * rewrites the table (a volatile default does; since PostgreSQL 11 a
 * non-volatile one is stored once in the catalog). Internal to `src/migrate`.
 */
import type { Node } from 'libpg-query';

import { qualifiedName, walk } from '../sql-ast.js';

/**
 * Functions whose results change from row to row (PostgreSQL `VOLATILE`): as
 * a column default they force a table rewrite on ADD COLUMN.
 */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'random_normal',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'gen_random_bytes',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'setval',
  'txid_current',
  'pg_current_xact_id',
]);

/**
 * Built-in functions known to be STABLE or IMMUTABLE (a default using only
 * these is evaluated once; no rewrite since PostgreSQL 11).
 */
const NON_VOLATILE_FUNCTIONS = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_date',
  'current_timestamp',
  'localtimestamp',
  'lower',
  'upper',
  'trim',
  'btrim',
  'concat',
  'concat_ws',
  'length',
  'substring',
  'replace',
  'md5',
  'abs',
  'round',
  'to_char',
  'to_date',
  'to_timestamp',
  'to_json',
  'to_jsonb',
  'json_build_object',
  'jsonb_build_object',
  'json_build_array',
  'jsonb_build_array',
  'array_fill',
  'make_date',
  'make_interval',
  'make_timestamp',
  'make_timestamptz',
  'date_trunc',
  'timezone',
  'current_setting',
  'current_user',
  'current_schema',
  'inet_client_addr',
]);

/** Volatility of a default expression: 'volatile', 'unknown' (names a function cutover does not know), or 'stable'. */
export function defaultVolatility(expr: Node | undefined): {
  kind: 'volatile' | 'unknown' | 'stable';
  fn?: string;
} {
  let unknown: string | undefined;
  for (const n of walk(expr)) {
    if ('FuncCall' in n) {
      const name = qualifiedName(n.FuncCall.funcname)?.split('.').pop()?.toLowerCase() ?? '';
      if (VOLATILE_FUNCTIONS.has(name)) return { kind: 'volatile', fn: name };
      if (!NON_VOLATILE_FUNCTIONS.has(name)) unknown ??= name;
    }
    if ('SubLink' in n) unknown ??= 'a subquery';
  }
  return unknown === undefined ? { kind: 'stable' } : { kind: 'unknown', fn: unknown };
}
