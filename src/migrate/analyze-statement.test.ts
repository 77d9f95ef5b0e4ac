import { beforeAll, describe, expect, it } from 'vitest';

import { isCutoverError } from '../errors/index.js';
import { analyzeStatement, describeLockMode, strongerLock } from './analyze-statement.js';
import type { LockMode, TableLock } from './migration.js';
import { loadSqlParser, splitStatements } from './split-statements.js';

beforeAll(async () => {
  await loadSqlParser();
});

interface Rule {
  sql: string;
  lock: LockMode;
  rewrites: boolean;
  scans?: boolean;
  /** Expected locks per table, when more than the main table matters. */
  locks?: TableLock[];
  tables?: string[];
  /** A word the advice must contain. */
  advice?: string;
  /** A phrase one of the notes must contain. */
  note?: string;
}

const AE: LockMode = 'ACCESS EXCLUSIVE';
const SUE: LockMode = 'SHARE UPDATE EXCLUSIVE';
const SRE: LockMode = 'SHARE ROW EXCLUSIVE';

/** The lock rule table, one row per rule (PostgreSQL docs: Explicit Locking, ALTER TABLE). */
const rules: Rule[] = [
  // ALTER TABLE … ADD COLUMN
  {
    sql: 'alter table users add column bio text',
    lock: AE,
    rewrites: false,
    scans: false,
    tables: ['users'],
  },
  {
    sql: "alter table users add column status text not null default 'new'",
    lock: AE,
    rewrites: false,
  },
  {
    sql: 'alter table users add column created_at timestamptz default now()',
    lock: AE,
    rewrites: false,
  },
  { sql: "alter table users add column tags jsonb default '{}'::jsonb", lock: AE, rewrites: false },
  {
    sql: 'alter table users add column r float8 default random()',
    lock: AE,
    rewrites: true,
    advice: 'backfill',
  },
  {
    sql: 'alter table users add column uid uuid default gen_random_uuid()',
    lock: AE,
    rewrites: true,
    advice: 'backfill',
  },
  {
    sql: 'alter table users add column t timestamptz default clock_timestamp()',
    lock: AE,
    rewrites: true,
  },
  { sql: "alter table users add column n int default nextval('s')", lock: AE, rewrites: true },
  { sql: 'alter table users add column n bigserial', lock: AE, rewrites: true },
  {
    sql: 'alter table users add column n int generated always as identity',
    lock: AE,
    rewrites: true,
  },
  {
    sql: 'alter table users add column d int generated always as (id * 2) stored',
    lock: AE,
    rewrites: true,
  },
  {
    sql: 'alter table users add column x int default my_func()',
    lock: AE,
    rewrites: true,
    note: 'May not rewrite',
  },
  {
    sql: 'alter table users add column n int check (n > 0)',
    lock: AE,
    rewrites: false,
    scans: true,
  },
  {
    sql: 'alter table orders add column user_id int references users (id)',
    lock: AE,
    rewrites: false,
    locks: [
      { table: 'orders', mode: AE },
      { table: 'users', mode: SRE },
    ],
  },
  {
    sql: 'alter table users add column email text unique',
    lock: AE,
    rewrites: false,
    scans: true,
    advice: 'CONCURRENTLY',
  },
  // ALTER COLUMN TYPE
  {
    sql: 'alter table users alter column age type bigint',
    lock: AE,
    rewrites: true,
    advice: 'backfill',
    note: 'Rewrites the table',
  },
  {
    sql: 'alter table users alter column name type text',
    lock: AE,
    rewrites: true,
    note: 'May not rewrite',
  },
  {
    sql: 'alter table users alter column name type varchar(500)',
    lock: AE,
    rewrites: true,
    note: 'May not rewrite',
  },
  {
    sql: 'alter table users alter column n type text using n::text',
    lock: AE,
    rewrites: true,
    note: 'Rewrites the table',
  },
  // NOT NULL / DEFAULT
  {
    sql: 'alter table users alter column email set not null',
    lock: AE,
    rewrites: false,
    scans: true,
    advice: 'NOT VALID',
  },
  {
    sql: 'alter table users alter column email drop not null',
    lock: AE,
    rewrites: false,
    scans: false,
  },
  {
    sql: "alter table users alter column status set default 'x'",
    lock: AE,
    rewrites: false,
    scans: false,
  },
  { sql: 'alter table users alter column status drop default', lock: AE, rewrites: false },
  // ADD CONSTRAINT
  {
    sql: 'alter table users add constraint c check (age > 0)',
    lock: AE,
    rewrites: false,
    scans: true,
    advice: 'NOT VALID',
  },
  {
    sql: 'alter table users add constraint c check (age > 0) not valid',
    lock: AE,
    rewrites: false,
    scans: false,
  },
  {
    sql: 'alter table app.orders add constraint fk foreign key (user_id) references app.users (id)',
    lock: SRE,
    rewrites: false,
    scans: true,
    advice: 'NOT VALID',
    locks: [
      { table: 'app.orders', mode: SRE },
      { table: 'app.users', mode: SRE },
    ],
  },
  {
    sql: 'alter table orders add constraint fk foreign key (user_id) references users (id) not valid',
    lock: SRE,
    rewrites: false,
    scans: false,
    tables: ['orders', 'users'],
  },
  {
    sql: 'alter table users add constraint u unique (email)',
    lock: AE,
    rewrites: false,
    scans: true,
    advice: 'USING INDEX',
  },
  {
    sql: 'alter table users add primary key (id)',
    lock: AE,
    rewrites: false,
    scans: true,
    advice: 'USING INDEX',
  },
  {
    sql: 'alter table users add constraint u unique using index users_email',
    lock: AE,
    rewrites: false,
    scans: false,
  },
  { sql: 'alter table users validate constraint c', lock: SUE, rewrites: false, scans: true },
  { sql: 'alter table users drop constraint c', lock: AE, rewrites: false },
  // Other ALTER TABLE forms
  { sql: 'alter table users drop column bio', lock: AE, rewrites: false, advice: 'contract' },
  {
    sql: 'alter table users rename to people',
    lock: AE,
    rewrites: false,
    advice: 'expand/contract',
  },
  {
    sql: 'alter table users rename column name to full_name',
    lock: AE,
    rewrites: false,
    advice: 'expand/contract',
  },
  { sql: 'alter index users_email rename to users_email_idx', lock: SUE, rewrites: false },
  { sql: 'alter table users set tablespace fast', lock: AE, rewrites: true },
  { sql: 'alter table users set unlogged', lock: AE, rewrites: true },
  { sql: 'alter table users enable trigger t', lock: SRE, rewrites: false },
  { sql: 'alter table users disable trigger all', lock: SRE, rewrites: false },
  { sql: 'alter table users alter column email set statistics 500', lock: SUE, rewrites: false },
  { sql: 'alter table users set (fillfactor = 70)', lock: SUE, rewrites: false },
  {
    sql: "alter table events attach partition events_2024 for values from ('2024-01-01') to ('2025-01-01')",
    lock: AE,
    rewrites: false,
    scans: true,
    advice: 'CHECK',
    locks: [
      { table: 'events', mode: SUE },
      { table: 'events_2024', mode: AE },
    ],
  },
  {
    sql: 'alter table events detach partition events_2023',
    lock: AE,
    rewrites: false,
    advice: 'CONCURRENTLY',
    tables: ['events', 'events_2023'],
  },
  {
    sql: 'alter table events detach partition events_2023 concurrently',
    lock: SUE,
    rewrites: false,
  },
  {
    sql: 'alter table users add column a int, alter column b set not null',
    lock: AE,
    rewrites: false,
    scans: true,
  },
  // Indexes
  {
    sql: 'create index users_email on users (email)',
    lock: 'SHARE',
    rewrites: false,
    scans: true,
    advice: 'CONCURRENTLY',
  },
  {
    sql: 'create unique index users_email on users (email)',
    lock: 'SHARE',
    rewrites: false,
    advice: 'CONCURRENTLY',
  },
  {
    sql: 'create index concurrently users_email on users (email)',
    lock: SUE,
    rewrites: false,
    scans: true,
    note: 'INVALID',
  },
  { sql: 'drop index users_email', lock: AE, rewrites: false, advice: 'CONCURRENTLY' },
  { sql: 'drop index concurrently users_email', lock: SUE, rewrites: false },
  { sql: 'reindex index users_email', lock: AE, rewrites: true, advice: 'CONCURRENTLY' },
  { sql: 'reindex table concurrently users', lock: SUE, rewrites: true },
  // Whole-table operations
  { sql: 'drop table legacy', lock: AE, rewrites: false, advice: 'contract' },
  { sql: 'truncate audit_log', lock: AE, rewrites: false },
  { sql: 'vacuum full users', lock: AE, rewrites: true, advice: 'pg_repack' },
  { sql: 'vacuum users', lock: SUE, rewrites: false },
  { sql: 'analyze users', lock: SUE, rewrites: false },
  { sql: 'cluster users using users_pkey', lock: AE, rewrites: true },
  { sql: 'refresh materialized view stats', lock: AE, rewrites: true, advice: 'CONCURRENTLY' },
  { sql: 'refresh materialized view concurrently stats', lock: 'EXCLUSIVE', rewrites: false },
  // CREATE TABLE
  { sql: 'create table things (id int primary key)', lock: 'NONE', rewrites: false, tables: [] },
  {
    sql: 'create table orders (id int, user_id int references users (id))',
    lock: SRE,
    rewrites: false,
    locks: [{ table: 'users', mode: SRE }],
  },
  {
    sql: "create table events_2024 partition of events for values from ('2024-01-01') to ('2025-01-01')",
    lock: AE,
    rewrites: false,
    advice: 'ATTACH PARTITION',
    tables: ['events'],
  },
  // Triggers, DML, LOCK
  {
    sql: 'create trigger t before update on users for each row execute function f()',
    lock: SRE,
    rewrites: false,
  },
  { sql: 'drop trigger t on users', lock: AE, rewrites: false, tables: ['users'] },
  {
    sql: "insert into users (name) values ('a')",
    lock: 'ROW EXCLUSIVE',
    rewrites: false,
    tables: ['users'],
  },
  {
    sql: 'update users set name = lower(name) where id < 100',
    lock: 'ROW EXCLUSIVE',
    rewrites: false,
    scans: false,
    advice: 'backfill',
  },
  {
    sql: 'update users set name = lower(name)',
    lock: 'ROW EXCLUSIVE',
    rewrites: false,
    scans: true,
    advice: 'backfill',
  },
  {
    sql: 'delete from sessions where expired',
    lock: 'ROW EXCLUSIVE',
    rewrites: false,
    advice: 'backfill',
  },
  {
    sql: 'insert into archive select * from orders',
    lock: 'ROW EXCLUSIVE',
    rewrites: false,
    locks: [
      { table: 'archive', mode: 'ROW EXCLUSIVE' },
      { table: 'orders', mode: 'ACCESS SHARE' },
    ],
  },
  { sql: 'select count(*) from users', lock: 'ACCESS SHARE', rewrites: false, tables: ['users'] },
  { sql: 'select * from users for update', lock: 'ROW SHARE', rewrites: false },
  { sql: 'lock table users', lock: AE, rewrites: false },
  {
    sql: 'lock table users, orders in share row exclusive mode',
    lock: SRE,
    rewrites: false,
    tables: ['users', 'orders'],
  },
  { sql: 'lock table users in access share mode', lock: 'ACCESS SHARE', rewrites: false },
  // Harmless and unknown
  {
    sql: 'create function f() returns int language sql as $$ select 1 $$',
    lock: 'NONE',
    rewrites: false,
  },
  { sql: "create type mood as enum ('a', 'b')", lock: 'NONE', rewrites: false },
  { sql: 'create extension if not exists pgcrypto', lock: 'NONE', rewrites: false },
  { sql: "comment on table users is 'people'", lock: SUE, rewrites: false, tables: ['users'] },
  {
    sql: 'alter domain positive add constraint c check (value > 0)',
    lock: AE,
    rewrites: false,
    note: 'no lock rule',
  },
];

describe('analyzeStatement: the lock rule table', () => {
  it.each(rules)('$sql → $lock', (rule) => {
    const analysis = analyzeStatement(rule.sql);
    expect(analysis.lock).toBe(rule.lock);
    expect(analysis.rewrites).toBe(rule.rewrites);
    if (rule.scans !== undefined) expect(analysis.scans).toBe(rule.scans);
    if (rule.locks !== undefined) expect(analysis.locks).toEqual(rule.locks);
    if (rule.tables !== undefined) expect(analysis.tables).toEqual(rule.tables);
    if (rule.advice !== undefined) expect(analysis.advice).toContain(rule.advice);
    if (rule.note !== undefined) expect(analysis.notes.join(' ')).toContain(rule.note);
    expect(analysis.operation).not.toBe('');
  });

  it('describes what the strongest lock blocks, per table', () => {
    expect(analyzeStatement('alter table users add column r float8 default random()').blocks).toBe(
      'blocks reads and writes on users',
    );
    expect(analyzeStatement('create index on users (email)').blocks).toBe('blocks writes on users');
    expect(analyzeStatement('create table t (id int)').blocks).toBe('blocks nothing');
    expect(analyzeStatement('alter table events attach partition p for values in (1)').blocks).toBe(
      'blocks reads and writes on p; blocks only DDL and VACUUM (not reads or writes) on events',
    );
  });

  it('accepts a statement from splitStatements', () => {
    const [statement] = splitStatements('-- c\ncreate index concurrently i on t (a);', 'f.sql');
    if (statement === undefined) throw new Error('expected a statement');
    expect(analyzeStatement(statement)).toMatchObject({ lock: SUE, tables: ['t'] });
  });

  it('combines several statements in one string: the strongest lock wins', () => {
    const analysis = analyzeStatement('select 1 from a; truncate b');
    expect(analysis.lock).toBe(AE);
    expect(analysis.locks).toEqual([
      { table: 'a', mode: 'ACCESS SHARE' },
      { table: 'b', mode: AE },
    ]);
  });

  it('rejects SQL that does not parse with MIGRATION_PARSE_ERROR', () => {
    try {
      analyzeStatement('alter tabel x');
      expect.unreachable();
    } catch (error) {
      expect(isCutoverError(error) && error.code).toBe('MIGRATION_PARSE_ERROR');
    }
  });
});

describe('lock modes', () => {
  it('orders modes by strength', () => {
    expect(strongerLock('SHARE', 'ROW EXCLUSIVE')).toBe('SHARE');
    expect(strongerLock('NONE', 'ACCESS SHARE')).toBe('ACCESS SHARE');
    expect(strongerLock(AE, 'EXCLUSIVE')).toBe(AE);
  });

  it('says which modes block reads and which block writes', () => {
    expect(describeLockMode(AE)).toBe('blocks reads and writes');
    expect(describeLockMode('SHARE')).toBe('blocks writes');
    expect(describeLockMode(SRE)).toBe('blocks writes');
    expect(describeLockMode('NONE')).toBe('blocks nothing');
  });
});
