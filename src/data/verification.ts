import type pg from 'pg';
import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import { isDatabaseError } from '../db/index.js';
import type { Clock } from '../steps/step-kind.js';
import { runCancellable } from './cancellable.js';
import { quoteIdent, resolveTable, type Queryable } from './identifiers.js';
import { systemClock } from './system-clock.js';

/** How bad a failed check is: `critical` fails the verification (and the step). */
export type CheckSeverity = 'critical' | 'warning' | 'info';

const severitySchema = z.enum(['critical', 'warning', 'info']);
const text = z.string().trim().min(1);
const common = {
  /** Name in the report (default: derived from the check). */
  name: text.optional(),
  /** Default `critical`. */
  severity: severitySchema.optional(),
  /** What to do when the check fails (shown under recommendations). */
  recommendation: text.optional(),
  /** `statement_timeout` of the check's queries in ms. Default none. */
  timeoutMs: z.number().int().positive().optional(),
};

/**
 * An SQL assertion: passes when the query returns no rows, or only rows whose
 * single column is `true` (`select count(*) = 0 from …`, or a query listing
 * offending rows).
 */
export const sqlCheckSchema = z.strictObject({ sql: text, ...common });

/** Equal row counts of two queries (or tables: a bare name means `select * from name`). */
export const countsCheckSchema = z.strictObject({
  counts: z.strictObject({ source: text, target: text }),
  ...common,
});

/**
 * Equality of source and target data: both queries (or tables) return the
 * key columns and the compared columns under the same names.
 */
export const compareCheckSchema = z.strictObject({
  compare: z.strictObject({
    source: text,
    target: text,
    /** Key column(s), present on both sides, unique per side. */
    key: z.union([text, z.array(text).min(1)]),
    /** Columns compared (default: every column of the source). Must exist on both sides. */
    columns: z.array(text).min(1).optional(),
    /** Source rows per chunk. Default 10 000. */
    chunkSize: z.number().int().min(10).optional(),
    /** Differing keys named in the report, at most. Default 20. */
    maxDifferences: z.number().int().min(1).max(10_000).optional(),
  }),
  ...common,
});

/** One verification check (as written in a plan's `verify: [...]`). */
export const verificationCheckSchema = z.union([
  sqlCheckSchema,
  countsCheckSchema,
  compareCheckSchema,
]);

/** Schema of a `verify` step body: a non-empty list of checks. */
export const verificationChecksSchema = z.array(verificationCheckSchema).min(1);

export type SqlCheck = z.infer<typeof sqlCheckSchema>;
export type CountsCheck = z.infer<typeof countsCheckSchema>;
export type CompareCheck = z.infer<typeof compareCheckSchema>;
export type VerificationCheck = z.infer<typeof verificationCheckSchema>;

/** A key that differs between source and target. */
export interface KeyDifference {
  /** Key column → value (as text). */
  key: Record<string, string>;
  /**
   * `missing_in_target`, `extra_in_target`, `different` (same key, other
   * values), or `duplicate_in_source` / `duplicate_in_target` (the key is not unique there).
   */
  issue:
    | 'missing_in_target'
    | 'extra_in_target'
    | 'different'
    | 'duplicate_in_source'
    | 'duplicate_in_target';
}

/** The result of one check. */
export interface VerificationCheckResult {
  name: string;
  kind: 'sql' | 'counts' | 'compare';
  severity: CheckSeverity;
  passed: boolean;
  /** One sentence: what was found. */
  message: string;
  durationMs: number;
  /** Facts (counts, offending rows, chunk statistics). */
  details?: Record<string, unknown>;
  /** For `compare`: the differing keys (at most `maxDifferences`). */
  differences?: KeyDifference[];
  recommendation?: string;
}

/**
 * A verification report. `critical`, `warnings` and `info` hold the FAILED
 * checks of each severity; `checks` holds every check in order.
 */
export interface VerificationReport {
  /** True when no critical check failed. */
  passed: boolean;
  critical: VerificationCheckResult[];
  warnings: VerificationCheckResult[];
  info: VerificationCheckResult[];
  /** What to do, one line per failed check. */
  recommendations: string[];
  checks: VerificationCheckResult[];
  durationMs: number;
}

/** Options of {@link runVerification}. */
export interface VerificationOptions {
  /** Aborting cancels the query in flight and throws the signal's reason. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Called after each check with checks done / total. */
  onProgress?(done: number, total: number, last: VerificationCheckResult): void;
}

function checkName(check: VerificationCheck): string {
  if (check.name !== undefined) return check.name;
  const short = (s: string) => {
    const one = s.replace(/\s+/g, ' ').trim();
    return one.length > 60 ? `${one.slice(0, 57)}…` : one;
  };
  if ('sql' in check) return short(check.sql);
  if ('counts' in check)
    return `counts: ${short(check.counts.source)} = ${short(check.counts.target)}`;
  return `compare: ${short(check.compare.source)} = ${short(check.compare.target)}`;
}

const QUERY_START = /^\s*\(?\s*(select|with|values|table)\b/i;

/** A query as given, or `select * from <table>` for a bare table name. */
async function asQuery(db: Queryable, value: string): Promise<string> {
  if (QUERY_START.test(value)) return value.trim().replace(/;\s*$/, '');
  const ref = await resolveTable(db, value.trim());
  return `select * from ${ref.sql}`;
}

function jsonSafe(row: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(row, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    ),
  ) as Record<string, unknown>;
}

function formatKey(key: Record<string, string>): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/**
 * Runs verification checks in order and returns the report. Each check runs
 * in its own READ ONLY transaction (a `compare` in one REPEATABLE READ READ
 * ONLY transaction, so both sides are read at the same instant); a check whose
 * query errors fails with the error as its message.
 *
 * `compare` works by key ranges: the source's first key column is cut into
 * ranges of about `chunkSize` source rows; for each range both sides compute,
 * in SQL, a row count and an order-independent checksum (the sum of the first
 * 64 bits of each row's md5); only ranges whose count or checksum differ are
 * read row by row (key and row md5) and compared, naming the differing keys.
 *
 * @throws the signal's reason when aborted (no other errors: failures are in the report).
 */
export async function runVerification(
  pool: pg.Pool,
  checks: readonly VerificationCheck[],
  options: VerificationOptions = {},
): Promise<VerificationReport> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const results: VerificationCheckResult[] = [];
  for (const check of checks) {
    options.signal?.throwIfAborted();
    const checkStart = clock.now();
    const base = {
      name: checkName(check),
      kind:
        'sql' in check
          ? ('sql' as const)
          : 'counts' in check
            ? ('counts' as const)
            : ('compare' as const),
      severity: check.severity ?? 'critical',
      ...(check.recommendation === undefined ? {} : { recommendation: check.recommendation }),
    };
    let outcome: Pick<VerificationCheckResult, 'passed' | 'message' | 'details' | 'differences'>;
    try {
      outcome = await inTransaction(pool, check, options.signal, (client) =>
        'sql' in check
          ? runSqlCheck(client, check, base.severity)
          : 'counts' in check
            ? runCountsCheck(client, check)
            : runCompareCheck(client, check),
      );
    } catch (error) {
      if (options.signal?.aborted === true) throw options.signal.reason;
      const message = error instanceof Error ? error.message : String(error);
      outcome = {
        passed: false,
        message: `The check could not run: ${message}.`,
        details: {
          error: message,
          ...(isDatabaseError(error) ? { sqlstate: error.code } : {}),
          ...(error instanceof CutoverError ? { code: error.code } : {}),
        },
      };
    }
    const result: VerificationCheckResult = {
      ...base,
      ...outcome,
      durationMs: clock.now() - checkStart,
    };
    results.push(result);
    options.onProgress?.(results.length, checks.length, result);
  }
  const failed = results.filter((r) => !r.passed);
  // Info checks are findings, not problems: they recommend only what their author wrote.
  const recommendations = failed.flatMap((r) => {
    const text = r.recommendation ?? (r.severity === 'info' ? undefined : defaultRecommendation(r));
    return text === undefined ? [] : [`${r.name}: ${text}`];
  });
  return {
    passed: !failed.some((r) => r.severity === 'critical'),
    critical: failed.filter((r) => r.severity === 'critical'),
    warnings: failed.filter((r) => r.severity === 'warning'),
    info: failed.filter((r) => r.severity === 'info'),
    recommendations,
    checks: results,
    durationMs: clock.now() - started,
  };
}

function defaultRecommendation(result: VerificationCheckResult): string {
  if (result.details?.error !== undefined)
    return 'Fix the check’s query and run the verification again.';
  switch (result.kind) {
    case 'sql':
      return 'Look at the rows the query returns, fix the data or the backfill, then verify again.';
    case 'counts':
      return 'Find the missing or extra rows with a compare check on the key, re-run the backfill for them, then verify again.';
    case 'compare': {
      const first = result.differences?.[0];
      return `Fix the transform for the differing keys${first === undefined ? '' : ` (e.g. ${formatKey(first.key)})`}, re-run the backfill for them, then verify again.`;
    }
  }
}

async function inTransaction<T>(
  pool: pg.Pool,
  check: VerificationCheck,
  signal: AbortSignal | undefined,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    return await runCancellable(pool, client, signal, async () => {
      await client.query(
        'compare' in check ? 'begin isolation level repeatable read read only' : 'begin read only',
      );
      try {
        if (check.timeoutMs !== undefined) {
          await client.query(`set local statement_timeout = ${check.timeoutMs}`);
        }
        return await fn(client);
      } finally {
        await client.query('rollback').catch(() => undefined);
      }
    });
  } finally {
    client.release();
  }
}

/** `{a: 1, b: x}` — a short view of a row for messages. */
function previewRow(row: Record<string, unknown>): string {
  const text = Object.entries(jsonSafe(row))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return `{${text.length > 120 ? `${text.slice(0, 117)}…` : text}}`;
}

async function runSqlCheck(
  client: pg.PoolClient,
  check: SqlCheck,
  severity: CheckSeverity,
): Promise<Pick<VerificationCheckResult, 'passed' | 'message' | 'details'>> {
  const result = await client.query<Record<string, unknown>>(check.sql);
  const rows = result.rows;
  if (rows.length === 0) return { passed: true, message: 'The query returned no rows.' };
  const allTrue = result.fields.length === 1 && rows.every((row) => Object.values(row)[0] === true);
  if (allTrue) return { passed: true, message: 'The query returned true.' };
  const single = result.fields.length === 1 && rows.length === 1;
  const preview = rows
    .slice(0, 3)
    .map((row) => previewRow(row))
    .join(', ');
  return {
    passed: false,
    message: single
      ? `The query returned ${JSON.stringify(Object.values(rows[0] ?? {})[0] ?? null)} instead of true.`
      : `The query returned ${rows.length} row${rows.length === 1 ? '' : 's'}${severity === 'info' ? '' : ' (expected none, or true)'}: ${preview}${rows.length > 3 ? ', …' : ''}.`,
    details: { rowCount: rows.length, rows: rows.slice(0, 10).map(jsonSafe) },
  };
}

async function runCountsCheck(
  client: pg.PoolClient,
  check: CountsCheck,
): Promise<Pick<VerificationCheckResult, 'passed' | 'message' | 'details'>> {
  const source = await asQuery(client, check.counts.source);
  const target = await asQuery(client, check.counts.target);
  const { rows } = await client.query<{ source: string; target: string }>(
    `select (select count(*) from (${source}) s)::text as source,
            (select count(*) from (${target}) t)::text as target`,
  );
  const s = Number(rows[0]?.source ?? 0);
  const t = Number(rows[0]?.target ?? 0);
  return {
    passed: s === t,
    message:
      s === t
        ? `Both sides have ${s} rows.`
        : `The source has ${s} rows, the target ${t} (${t > s ? '+' : ''}${t - s}).`,
    details: { source: s, target: t },
  };
}

interface Shape {
  columns: string[];
  types: Map<string, string>;
}

async function shapeOf(client: pg.PoolClient, query: string): Promise<Shape> {
  const result = await client.query(`select * from (${query}) s limit 0`);
  const columns = result.fields.map((f) => f.name);
  const types = new Map<string, string>();
  const { rows } = await client.query<{ oid: number; type: string }>(
    'select o::int as oid, format_type(o, null) as type from unnest($1::oid[]) o',
    [result.fields.map((f) => f.dataTypeID)],
  );
  for (const field of result.fields) {
    const type = rows.find((r) => r.oid === field.dataTypeID)?.type;
    if (type !== undefined) types.set(field.name, type);
  }
  return { columns, types };
}

async function runCompareCheck(
  client: pg.PoolClient,
  check: CompareCheck,
): Promise<Pick<VerificationCheckResult, 'passed' | 'message' | 'details' | 'differences'>> {
  const spec = check.compare;
  const source = await asQuery(client, spec.source);
  const target = await asQuery(client, spec.target);
  const key = typeof spec.key === 'string' ? [spec.key] : spec.key;
  const chunkSize = spec.chunkSize ?? 10_000;
  const maxDifferences = spec.maxDifferences ?? 20;
  const sourceShape = await shapeOf(client, source);
  const targetShape = await shapeOf(client, target);
  const compared = spec.columns ?? sourceShape.columns;
  const missingOn = (shape: Shape) =>
    [...new Set([...key, ...compared])].filter((c) => !shape.columns.includes(c));
  const missingSource = missingOn(sourceShape);
  const missingTarget = missingOn(targetShape);
  if (missingSource.length > 0 || missingTarget.length > 0) {
    return {
      passed: false,
      message: `The two sides do not have the same columns: ${[
        missingSource.length > 0 ? `source lacks ${missingSource.join(', ')}` : '',
        missingTarget.length > 0 ? `target lacks ${missingTarget.join(', ')}` : '',
      ]
        .filter((s) => s !== '')
        .join('; ')}.`,
      details: { sourceColumns: sourceShape.columns, targetColumns: targetShape.columns },
    };
  }
  const first = key[0] ?? '';
  const firstType = sourceShape.types.get(first) ?? 'text';
  const k1 = `s.${quoteIdent(first)}`;
  const rowText = `row(${compared.map((c) => `s.${quoteIdent(c)}`).join(', ')})::text`;

  // Chunk boundaries: every chunkSize-th value of the first key column in the source.
  const { rows: boundRows } = await client.query<{ b: string }>(
    `select b::text as b from (
       select distinct k as b from (
         select ${k1} as k, row_number() over (order by ${k1}) as rn from (${source}) s
       ) x where rn % $1 = 0 and k is not null
     ) y order by y.b`,
    [chunkSize],
  );
  const bounds = boundRows.map((r) => r.b);
  const chunkSql = (query: string) =>
    `select coalesce(width_bucket(${k1}, $1::text[]::${firstType}[])::text, 'null') as chunk,
            count(*)::text as n,
            coalesce(sum(('x' || left(md5(${rowText}), 16))::bit(64)::bigint::numeric), 0)::text as sum
       from (${query}) s group by 1`;
  const read = async (query: string) => {
    const { rows } = await client.query<{ chunk: string; n: string; sum: string }>(
      chunkSql(query),
      [bounds],
    );
    return new Map(rows.map((r) => [r.chunk, r]));
  };
  const sourceChunks = await read(source);
  const targetChunks = await read(target);
  const chunkIds = [...new Set([...sourceChunks.keys(), ...targetChunks.keys()])].sort(
    (a, b) => (a === 'null' ? -1 : Number(a)) - (b === 'null' ? -1 : Number(b)),
  );
  const differing = chunkIds.filter((id) => {
    const s = sourceChunks.get(id);
    const t = targetChunks.get(id);
    return s?.n !== t?.n || s?.sum !== t?.sum;
  });
  const count = (chunks: Map<string, { n: string }>) =>
    [...chunks.values()].reduce((sum, c) => sum + Number(c.n), 0);
  const details: Record<string, unknown> = {
    sourceRows: count(sourceChunks),
    targetRows: count(targetChunks),
    chunks: chunkIds.length,
    differingChunks: differing.length,
  };
  if (differing.length === 0) {
    return {
      passed: true,
      message: `All ${String(details.sourceRows)} rows are equal (${chunkIds.length} chunk${chunkIds.length === 1 ? '' : 's'} of ~${chunkSize} rows compared by checksum).`,
      details,
    };
  }

  // Row-by-row comparison of the differing chunks only.
  const keyArray = `array[${key.map((c) => `s.${quoteIdent(c)}::text`).join(', ')}]`;
  const order = key.map((c) => `s.${quoteIdent(c)}`).join(', ');
  const differences: KeyDifference[] = [];
  const totals: Record<KeyDifference['issue'], number> = {
    missing_in_target: 0,
    extra_in_target: 0,
    different: 0,
    duplicate_in_source: 0,
    duplicate_in_target: 0,
  };
  for (const id of differing) {
    let range: string;
    const params: string[] = [];
    if (id === 'null') {
      range = `${k1} is null`;
    } else {
      const bucket = Number(id);
      const conditions: string[] = [];
      const lo = bucket >= 1 ? bounds[bucket - 1] : undefined;
      const hi = bucket < bounds.length ? bounds[bucket] : undefined;
      if (lo !== undefined) {
        params.push(lo);
        conditions.push(`${k1} >= $${params.length}::${firstType}`);
      }
      if (hi !== undefined) {
        params.push(hi);
        conditions.push(`${k1} < $${params.length}::${firstType}`);
      }
      range = conditions.length === 0 ? 'true' : conditions.join(' and ');
    }
    const note = (keyText: string, issue: KeyDifference['issue']) => {
      totals[issue]++;
      if (differences.length < maxDifferences) {
        const values = JSON.parse(keyText) as (string | null)[];
        differences.push({
          key: Object.fromEntries(key.map((c, i) => [c, values[i] ?? 'null'])),
          issue,
        });
      }
    };
    const rowsOf = async (query: string, duplicate: KeyDifference['issue']) => {
      const { rows } = await client.query<{ key: string[]; h: string }>(
        `select ${keyArray} as key, md5(${rowText}) as h from (${query}) s where ${range} order by ${order}`,
        params,
      );
      const byKey = new Map<string, string>();
      for (const row of rows) {
        const k = JSON.stringify(row.key);
        if (byKey.has(k)) note(k, duplicate);
        else byKey.set(k, row.h);
      }
      return byKey;
    };
    const s = await rowsOf(source, 'duplicate_in_source');
    const t = await rowsOf(target, 'duplicate_in_target');
    for (const [k, h] of s) {
      const other = t.get(k);
      if (other === undefined) note(k, 'missing_in_target');
      else if (other !== h) note(k, 'different');
    }
    for (const k of t.keys()) if (!s.has(k)) note(k, 'extra_in_target');
  }
  const totalDiff = Object.values(totals).reduce((a, b) => a + b, 0);
  const duplicates = totals.duplicate_in_source + totals.duplicate_in_target;
  Object.assign(details, {
    missingInTarget: totals.missing_in_target,
    extraInTarget: totals.extra_in_target,
    different: totals.different,
    duplicateKeys: duplicates,
  });
  const named = differences
    .slice(0, 5)
    .map((d) => `(${formatKey(d.key)}) ${d.issue.replaceAll('_', ' ')}`)
    .join('; ');
  return {
    passed: false,
    message: `${totalDiff} key${totalDiff === 1 ? '' : 's'} differ in ${differing.length} of ${chunkIds.length} chunks (${totals.missing_in_target} missing in target, ${totals.extra_in_target} extra in target, ${totals.different} different${duplicates > 0 ? `, ${duplicates} duplicated` : ''}): ${named}${totalDiff > 5 ? '; …' : ''}.`,
    details,
    differences,
  };
}

/**
 * Throws when the report has a failed critical check.
 *
 * @throws CutoverError `VERIFICATION_FAILED` (validation), naming the failed
 *   critical checks, with the report in `details.report`.
 */
export function assertVerificationPassed(report: VerificationReport): void {
  if (report.passed) return;
  const names = report.critical.map((c) => `${c.name} (${c.message})`);
  throw new CutoverError(
    'VERIFICATION_FAILED',
    'validation',
    `Verification failed: ${report.critical.length} critical check${report.critical.length === 1 ? '' : 's'} failed: ${names.join('; ')}`,
    {
      hint: report.recommendations[0] ?? 'Fix the data, then verify again.',
      details: { report },
    },
  );
}
