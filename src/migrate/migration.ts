/**
 * The one model every migration layout is parsed into. Written first so the
 * migration sources (parsers) and the migrator (executor) share it.
 */

/** A directory layout cutover reads; auto-detected per directory, overridable in config. */
export type MigrationLayout = 'native' | 'golang-migrate' | 'flyway' | 'prisma' | 'typescript';

/** PostgreSQL table lock modes, weakest first (as in the PostgreSQL docs, "Explicit Locking"). */
export type LockMode =
  | 'NONE'
  | 'ACCESS SHARE'
  | 'ROW SHARE'
  | 'ROW EXCLUSIVE'
  | 'SHARE UPDATE EXCLUSIVE'
  | 'SHARE'
  | 'SHARE ROW EXCLUSIVE'
  | 'EXCLUSIVE'
  | 'ACCESS EXCLUSIVE';

/** One SQL statement of a migration script, with its place in the file. */
export interface SqlStatement {
  /** The statement text, without the trailing semicolon. */
  sql: string;
  /** 0-based index of the statement's first character in the file's text (UTF-16 units, as JS strings). */
  offset: number;
  /** 1-based line of the statement's first character in the file. */
  line: number;
  /** 1-based column of the statement's first character in the file. */
  column: number;
  /**
   * Why this statement cannot run inside a transaction block
   * (e.g. `CREATE INDEX CONCURRENTLY`, `VACUUM`), or undefined when it can.
   */
  nonTransactional?: string;
}

/** One direction (up or down) of a SQL migration. */
export interface SqlScript {
  type: 'sql';
  /** Absolute path of the file holding this script. */
  file: string;
  /** The whole text of that file (for position mapping). */
  fileText: string;
  /** The statements, in order. Empty for an empty script. */
  statements: SqlStatement[];
  /**
   * True when the script runs as one transaction. False when the file opts out
   * (dbmate `transaction:false`) or a statement is non-transactional; then it
   * runs statement by statement with a statement-level checkpoint.
   */
  transactional: boolean;
  /** Why it is not transactional (for the output), when `transactional` is false. */
  nonTransactionalReason?: string;
}

/** The connection a TypeScript migration gets: a `pg` client inside the migration's transaction. */
export interface MigrationClient {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** One direction of a TypeScript migration (`export async function up(db)` / `down(db)`). */
export interface TypeScriptScript {
  type: 'typescript';
  /** Absolute path of the module. */
  file: string;
  /** Which export to call. */
  exportName: 'up' | 'down';
  /** False when the module exports `transaction = false`. Default true. */
  transactional: boolean;
  nonTransactionalReason?: string;
}

/** A script of either kind. */
export type MigrationScript = SqlScript | TypeScriptScript;

/** A migration, parsed from any layout. */
export interface Migration {
  /**
   * The version as written in the file name (`0001`, `1`, `2.1.3`,
   * `20240101120000`); undefined for Flyway repeatable migrations (`R__`).
   */
  version: string | undefined;
  /** Human name from the file name (`create_users`), underscores kept. */
  name: string;
  /** The layout it was read from. */
  layout: MigrationLayout;
  /** `versioned` (applied once, in order) or `repeatable` (Flyway `R__`: re-applied when its checksum changes). */
  kind: 'versioned' | 'repeatable';
  /**
   * sha256 hex of the normalized up file (see `checksumOf`: CRLF/CR→LF, trailing
   * white space and trailing blank lines removed). For dbmate files, the whole
   * file (up and down sections); for TypeScript, the module's source.
   */
  checksum: string;
  /** The up script. */
  up: MigrationScript;
  /** The down/undo script, if the layout and files have one; undefined when it is missing or has no statement. */
  down?: MigrationScript;
  /** Every file this migration was read from (absolute paths). */
  files: string[];
}

/** Reads one layout from a directory. One implementation per layout (Kysely's adapter shape). */
export interface MigrationSource {
  readonly layout: MigrationLayout;
  /**
   * Whether `fileNames` look like this layout. `fileNames` is the directory
   * listing as `listMigrationDir` gives it: the names of the files, plus
   * `sub/file` for the files of each subdirectory (one level, for Prisma).
   */
  detect(fileNames: readonly string[]): boolean;
  /**
   * Reads and parses every migration in `dir`, sorted by version (repeatables last, by name).
   * @throws CutoverError `MIGRATION_PARSE_ERROR` (config) naming file:line, `MIGRATION_DUPLICATE_VERSION` (config) naming both files.
   */
  load(dir: string): Promise<Migration[]>;
}

/** One table lock a statement takes. */
export interface TableLock {
  /** The table (or index, view, sequence), schema-qualified when the statement qualifies it. */
  table: string;
  /** The lock mode taken on it. */
  mode: LockMode;
}

/** What the dry run says about one statement (from the lock rule table, `analyzeStatement`). */
export interface StatementAnalysis {
  /** What the rule matched, in words (`ALTER TABLE … ADD COLUMN email with volatile DEFAULT random()`). */
  operation: string;
  /**
   * The strongest table lock the statement takes. For a statement cutover has
   * no rule for, `ACCESS EXCLUSIVE` is assumed (and `notes` says so).
   */
  lock: LockMode;
  /** Every table lock, strongest per table (e.g. a foreign key locks both tables). */
  locks: TableLock[];
  /**
   * True when the statement rewrites the whole table (or index) while holding
   * `lock`. The worst case when it depends on the catalog (binary-coercible
   * type changes, defaults of unknown volatility); `notes` then says "may not rewrite".
   */
  rewrites: boolean;
  /** True when it reads the whole table (validation, index build) while holding its locks. */
  scans: boolean;
  /** Tables it locks, schema-qualified when the statement qualifies them (the tables of `locks`). */
  tables: string[];
  /** What it blocks, in words ("blocks reads and writes on users", "blocks writes …", "blocks nothing"). */
  blocks: string;
  /** Facts worth knowing (e.g. "may not rewrite: …", "cannot run inside a transaction block"). */
  notes: string[];
  /** Advice when there is a safer form (e.g. "use CREATE INDEX CONCURRENTLY"). */
  advice?: string;
}
