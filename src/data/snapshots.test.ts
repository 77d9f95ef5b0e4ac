import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import {
  dropSnapshot,
  getSnapshot,
  listSnapshots,
  restoreSnapshot,
  SNAPSHOT_SCHEMA,
  takeSnapshot,
} from './snapshots.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('snap');
});
afterAll(async () => {
  await db.drop();
});

async function tableChecksum(table: string): Promise<string> {
  const { rows } = await db.pool.query<{ sum: string }>(
    `select coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as sum from ${table} t`,
  );
  return rows[0]?.sum ?? '';
}

describe('takeSnapshot', () => {
  it('copies all tables at one instant while writers keep writing (REPEATABLE READ)', async () => {
    await db.pool.query(`
      create table accounts (id serial primary key, balance int not null);
      create table transfers (id bigserial primary key,
        from_id int not null references accounts, to_id int not null references accounts, amount int not null);
      insert into accounts (balance) select 1000 from generate_series(1, 50);
    `);
    let stop = false;
    let writes = 0;
    const writer = async (seed: number) => {
      const client = await db.pool.connect();
      try {
        let i = seed;
        while (!stop) {
          i = (i * 7919 + 13) % 10007;
          const from = (i % 50) + 1;
          const to = ((i >> 3) % 50) + 1;
          await client.query('begin');
          await client.query('insert into transfers (from_id, to_id, amount) values ($1, $2, 7)', [
            from,
            to,
          ]);
          await client.query('update accounts set balance = balance - 7 where id = $1', [from]);
          await client.query('update accounts set balance = balance + 7 where id = $1', [to]);
          await client.query('commit');
          writes++;
        }
      } finally {
        client.release();
      }
    };
    const writers = [writer(1), writer(2)];
    while (writes < 50) await new Promise((r) => setTimeout(r, 5));
    const snapshot = await takeSnapshot(db.pool, {
      tables: ['accounts', 'public.transfers'],
      runId: 'run-consistency',
      stepId: 'prepare.0',
    });
    const writesAtSnapshot = writes;
    while (writes < writesAtSnapshot + 50) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await Promise.all(writers);

    expect(snapshot.existing).toBe(false);
    expect(snapshot.tables.map((t) => t.table)).toEqual(['public.accounts', 'public.transfers']);
    const accountsCopy = `${SNAPSHOT_SCHEMA}."${snapshot.tables[0]?.copyTable}"`;
    const transfersCopy = `${SNAPSHOT_SCHEMA}."${snapshot.tables[1]?.copyTable}"`;
    // Every account balance in the copy equals 1000 - out + in of the transfers in the copy.
    const { rows: broken } = await db.pool.query(`
      select a.id from ${accountsCopy} a
       where a.balance <> 1000
         - coalesce((select sum(amount) from ${transfersCopy} t where t.from_id = a.id), 0)
         + coalesce((select sum(amount) from ${transfersCopy} t where t.to_id = a.id), 0)`);
    expect(broken).toEqual([]);
    const { rows: counts } = await db.pool.query<{ copy: number; live: number }>(
      `select (select count(*)::int from ${transfersCopy}) as copy, (select count(*)::int from transfers) as live`,
    );
    expect(counts[0]?.copy).toBeGreaterThan(0);
    expect(counts[0]?.live).toBeGreaterThan(counts[0]?.copy ?? 0);
    expect(snapshot.sequences.map((s) => s.sequence).sort()).toEqual([
      'public.accounts_id_seq',
      'public.transfers_id_seq',
    ]);
  });

  it('restores every table of the snapshot in one transaction, sequences included', async () => {
    const snapshot = await getSnapshot(db.pool, { runId: 'run-consistency', stepId: 'prepare.0' });
    const accountsCopy = `${SNAPSHOT_SCHEMA}."${snapshot.tables[0]?.copyTable}"`;
    const transfersCopy = `${SNAPSHOT_SCHEMA}."${snapshot.tables[1]?.copyTable}"`;
    const result = await restoreSnapshot(db.pool, snapshot.id);
    expect(result.method).toBe('truncate');
    expect(await tableChecksum('accounts')).toBe(await tableChecksum(accountsCopy));
    expect(await tableChecksum('transfers')).toBe(await tableChecksum(transfersCopy));
    // Sequences are not transactional: the value read during the snapshot may be past the
    // copied rows (ids taken by transactions still in flight), never behind them.
    const captured = snapshot.sequences.find((s) => s.sequence === 'public.transfers_id_seq');
    const { rows } = await db.pool.query<{ next: string; max: string }>(
      `select nextval('transfers_id_seq')::text as next, (select max(id)::text from ${transfersCopy}) as max`,
    );
    expect(BigInt(rows[0]?.next ?? '0')).toBe(BigInt(captured?.lastValue ?? '-1') + 1n);
    expect(BigInt(rows[0]?.next ?? '0')).toBeGreaterThan(BigInt(rows[0]?.max ?? '0'));
  });

  it('returns the existing snapshot when called again for the same run and step (resume)', async () => {
    const again = await takeSnapshot(db.pool, {
      tables: ['accounts', 'transfers'],
      runId: 'run-consistency',
      stepId: 'prepare.0',
    });
    expect(again.existing).toBe(true);
    const all = await listSnapshots(db.pool);
    expect(all.filter((s) => s.runId === 'run-consistency')).toHaveLength(1);
  });

  it('leaves nothing behind when aborted during the copy', async () => {
    await db.pool.query(
      'create table slow_a (id int primary key); create table slow_b (id int primary key)',
    );
    const blocker = await db.pool.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table slow_b in access exclusive mode');
      const controller = new AbortController();
      const pending = takeSnapshot(db.pool, {
        tables: ['slow_a', 'slow_b'],
        runId: 'run-abort',
        stepId: 'p.0',
        signal: controller.signal,
      });
      // Wait until the snapshot waits for the lock on slow_b.
      for (;;) {
        const { rows } = await db.pool.query(
          `select 1 from pg_locks where relation = 'slow_b'::regclass and not granted`,
        );
        if (rows.length > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      controller.abort(new Error('stop requested'));
      await expect(pending).rejects.toThrow('stop requested');
    } finally {
      await blocker.query('rollback');
      blocker.release();
    }
    const all = await listSnapshots(db.pool);
    expect(all.some((s) => s.runId === 'run-abort')).toBe(false);
    const { rows } = await db.pool.query(
      `select tablename from pg_tables where schemaname = $1 and tablename like '%slow%'`,
      [SNAPSHOT_SCHEMA],
    );
    expect(rows).toEqual([]);
  });
});

describe('restoreSnapshot', () => {
  it('restores parents before children and keeps identity and generated columns right', async () => {
    await db.pool.query(`
      create table parents (id int generated always as identity primary key, name text not null,
        upper_name text generated always as (upper(name)) stored);
      create table children (id int primary key, parent_id int not null references parents, note text);
      insert into parents (name) values ('a'), ('b');
      insert into children values (1, 1, 'x'), (2, 2, 'y');
    `);
    const snap = await takeSnapshot(db.pool, {
      tables: ['children', 'parents'],
      runId: 'run-fk',
      stepId: 'p.0',
    });
    await db.pool.query(`
      delete from children; delete from parents;
      insert into parents (name) values ('c');
      insert into children values (9, 3, 'z');
    `);
    const before = {
      parents: await tableChecksum('parents'),
      children: await tableChecksum('children'),
    };
    expect(before.parents).not.toBe('');
    await restoreSnapshot(db.pool, snap.id);
    const { rows } = await db.pool.query(
      'select p.id, p.name, p.upper_name, c.id as child from parents p join children c on c.parent_id = p.id order by p.id',
    );
    expect(rows).toEqual([
      { id: 1, name: 'a', upper_name: 'A', child: 1 },
      { id: 2, name: 'b', upper_name: 'B', child: 2 },
    ]);
    const { rows: next } = await db.pool.query<{ id: number }>(
      `insert into parents (name) values ('d') returning id`,
    );
    expect(next[0]?.id).toBe(3);
  });

  it('uses ordered deletes when a table outside the snapshot has a deferrable reference into it', async () => {
    await db.pool.query(`
      create table owners (id int primary key, name text);
      create table pets (id int primary key,
        owner_id int references owners deferrable initially immediate);
      insert into owners values (1, 'ann'), (2, 'bob');
      insert into pets values (1, 1);
    `);
    const snap = await takeSnapshot(db.pool, {
      tables: ['owners'],
      runId: 'run-ext',
      stepId: 'p.0',
    });
    await db.pool.query(`update owners set name = 'changed'; insert into owners values (3, 'new')`);
    const result = await restoreSnapshot(db.pool, snap.id);
    expect(result.method).toBe('delete');
    const { rows } = await db.pool.query('select id, name from owners order by id');
    expect(rows).toEqual([
      { id: 1, name: 'ann' },
      { id: 2, name: 'bob' },
    ]);
  });

  it('refuses, changing nothing, when an outside table references the rows with ON DELETE CASCADE', async () => {
    await db.pool.query(`
      create table shops (id int primary key, name text);
      create table items (id int primary key, shop_id int references shops on delete cascade);
      insert into shops values (1, 'one'); insert into items values (1, 1);
    `);
    const snap = await takeSnapshot(db.pool, {
      tables: ['shops'],
      runId: 'run-cascade',
      stepId: 'p.0',
    });
    await db.pool.query(`update shops set name = 'changed'`);
    await expect(restoreSnapshot(db.pool, snap.id)).rejects.toMatchObject({
      code: 'SNAPSHOT_RESTORE_UNSAFE',
      category: 'refused',
    });
    const { rows } = await db.pool.query('select name from shops');
    expect(rows).toEqual([{ name: 'changed' }]);
    const { rows: items } = await db.pool.query('select count(*)::int as n from items');
    expect(items).toEqual([{ n: 1 }]);
  });

  it('restores only the requested tables and says which tables a snapshot lacks', async () => {
    const snap = await getSnapshot(db.pool, { runId: 'run-fk', stepId: 'p.0' });
    await expect(restoreSnapshot(db.pool, snap.id, { tables: ['owners'] })).rejects.toMatchObject({
      code: 'SNAPSHOT_TABLE_NOT_COVERED',
    });
    await db.pool.query(`update children set note = 'edited'`);
    const result = await restoreSnapshot(db.pool, snap.id, { tables: ['children'] });
    expect(result.tables.map((t) => t.table)).toEqual(['public.children']);
    const { rows } = await db.pool.query('select note from children order by id');
    expect(rows).toEqual([{ note: 'x' }, { note: 'y' }]);
  });
});

describe('listSnapshots and dropSnapshot', () => {
  it('lists snapshots with their tables and drops copies and metadata together', async () => {
    const all = await listSnapshots(db.pool);
    const snap = all.find((s) => s.runId === 'run-ext');
    expect(snap?.tables[0]).toMatchObject({ table: 'public.owners', rows: 2 });
    expect(snap?.bytes).toBeGreaterThan(0);
    await dropSnapshot(db.pool, snap?.id ?? '');
    expect((await listSnapshots(db.pool)).some((s) => s.runId === 'run-ext')).toBe(false);
    const { rows } = await db.pool.query('select to_regclass($1) as t', [
      `${SNAPSHOT_SCHEMA}."${snap?.tables[0]?.copyTable}"`,
    ]);
    expect(rows).toEqual([{ t: null }]);
    await expect(dropSnapshot(db.pool, snap?.id ?? '')).rejects.toMatchObject({
      code: 'SNAPSHOT_NOT_FOUND',
      category: 'not_found',
    });
  });
});
