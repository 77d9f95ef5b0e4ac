import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleFlag } from '../../test/helpers/flag-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { isCutoverError } from '../errors/index.js';
import { ensureControlSchema } from '../store/index.js';
import { listenForFlagChanges } from './flag-change-listener.js';
import {
  createFlagStore,
  environmentRevision,
  type FlagNotification,
  type FlagStore,
} from './flag-store.js';

const actor = { actor: 'alice', reason: 'test' };

async function rejection(
  promise: Promise<unknown>,
): Promise<{ code: string; category: string; details?: Record<string, unknown> }> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCutoverError(error)) throw new Error(`expected a CutoverError, got ${String(error)}`);
  return { code: error.code, category: error.category, details: error.details };
}

describe('FlagStore', () => {
  let db: TestDatabase;
  let store: FlagStore;
  beforeAll(async () => {
    db = await createTestDatabase('flagstore');
    await ensureControlSchema(db.pool);
    store = createFlagStore(db.pool);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('creates a flag as version 1 and records who, when and why', async () => {
    const change = await store.create(sampleFlag('create-me'), actor);
    expect(change).toMatchObject({
      key: 'create-me',
      version: 1,
      previousVersion: 0,
      changed: true,
    });
    const history = await store.history('create-me');
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({
      version: 1,
      action: 'create',
      actor: 'alice',
      reason: 'test',
    });
    expect(history[0]?.createdAt).toBeInstanceOf(Date);
    expect((await store.get('create-me')).flag).toEqual(sampleFlag('create-me'));
  });

  it('refuses to create a flag that exists (FLAG_EXISTS)', async () => {
    await store.create(sampleFlag('twice'), actor);
    expect(await rejection(store.create(sampleFlag('twice'), actor))).toMatchObject({
      code: 'FLAG_EXISTS',
      category: 'refused',
    });
  });

  it('reports an invalid definition with the JSON path of each problem and writes nothing', async () => {
    const bad = { key: 'bad', environments: { production: { enabled: 'yes', strategies: [] } } };
    const error = await rejection(store.create(bad, actor));
    expect(error.code).toBe('FLAG_INVALID');
    const issues = error.details?.issues as { path: string }[];
    expect(issues.map((i) => i.path)).toContain('$.environments.production.enabled');
    expect(await store.find('bad')).toBeUndefined();
  });

  it('reports an unknown flag as FLAG_NOT_FOUND for every change', async () => {
    for (const attempt of [
      () => store.get('nope'),
      () => store.update('nope', sampleFlag('nope'), actor),
      () => store.delete('nope', actor),
      () => store.setRollout('nope', 5, actor),
      () => store.enable('nope', actor),
      () => store.disable('nope', actor),
      () => store.history('nope'),
    ]) {
      expect(await rejection(attempt())).toMatchObject({
        code: 'FLAG_NOT_FOUND',
        category: 'not_found',
      });
    }
  });

  it('sets the rollout of the flexibleRollout strategy in one environment, and re-applying is a no-op', async () => {
    await store.create(sampleFlag('rollout'), actor);
    const change = await store.setRollout('rollout', 20, { ...actor, env: 'production' });
    expect(change).toMatchObject({
      version: 2,
      previousVersion: 1,
      changed: true,
      environments: ['production'],
    });
    const strategies = change.flag?.environments.production?.strategies;
    expect(strategies?.[0]?.parameters?.rollout).toBe('20');
    expect(change.flag?.environments.staging).toEqual(sampleFlag('rollout').environments.staging);
    const again = await store.setRollout('rollout', 20, { ...actor, env: 'production' });
    expect(again).toMatchObject({ version: 2, changed: false });
    expect(await store.history('rollout')).toHaveLength(2);
  });

  it('adds a flexibleRollout (dropping the catch-all default strategy) when the environment has none', async () => {
    await store.create(sampleFlag('add-rollout'), actor);
    const change = await store.setRollout('add-rollout', 5, { ...actor, env: 'staging' });
    expect(change.flag?.environments.staging?.strategies).toEqual([
      {
        name: 'flexibleRollout',
        parameters: { rollout: '5', stickiness: 'default', groupId: 'add-rollout' },
        constraints: [],
      },
    ]);
  });

  it('rejects a rollout outside 0..100 (FLAG_ROLLOUT_INVALID)', async () => {
    await store.create(sampleFlag('bad-rollout'), actor);
    for (const value of [-1, 101, 2.5]) {
      expect((await rejection(store.setRollout('bad-rollout', value, actor))).code).toBe(
        'FLAG_ROLLOUT_INVALID',
      );
    }
  });

  it('restores a previous version exactly, and version 0 deletes the flag', async () => {
    const created = await store.create(sampleFlag('restore'), actor);
    const v1 = (await store.get('restore')).flag;
    const rollout = await store.setRollout('restore', 50, { ...actor, env: 'production' });
    await store.disable('restore', actor);
    const restored = await store.restoreVersion('restore', rollout.previousVersion, actor);
    expect(restored).toMatchObject({ action: 'restore', version: 4, changed: true });
    expect((await store.get('restore')).flag).toEqual(v1);
    expect(await store.restoreVersion('restore', created.version, actor)).toMatchObject({
      changed: false,
    });
    const deleted = await store.restoreVersion('restore', created.previousVersion, actor);
    expect(deleted).toMatchObject({ flag: null, version: 0, changed: true });
    expect(await store.find('restore')).toBeUndefined();
    expect(await store.restoreVersion('restore', 0, actor)).toMatchObject({ changed: false });
    expect((await rejection(store.restoreVersion('restore', 99, actor))).code).toBe(
      'FLAG_VERSION_NOT_FOUND',
    );
  });

  it('keeps counting versions after a delete and keeps the history', async () => {
    await store.create(sampleFlag('recreate'), actor);
    await store.delete('recreate', actor);
    const again = await store.create(sampleFlag('recreate'), actor);
    expect(again).toMatchObject({ version: 3, previousVersion: 0 });
    expect((await store.history('recreate')).map((v) => v.action)).toEqual([
      'create',
      'delete',
      'create',
    ]);
  });

  it('enables and disables (kill switch) one environment or all of them', async () => {
    await store.create(sampleFlag('kill'), actor);
    const off = await store.disable('kill', { ...actor, env: 'production' });
    expect(off.flag?.environments.production?.enabled).toBe(false);
    expect(off.flag?.environments.staging?.enabled).toBe(true);
    const allOff = await store.disable('kill', actor);
    expect(Object.values(allOff.flag?.environments ?? {}).map((e) => e.enabled)).toEqual([
      false,
      false,
    ]);
    const on = await store.enable('kill', actor);
    expect(Object.values(on.flag?.environments ?? {}).map((e) => e.enabled)).toEqual([true, true]);
  });

  it('disables every flag with a tag in one call and leaves the others', async () => {
    await store.create(sampleFlag('tag-a', { tags: { category: 'cleanup' } }), actor);
    await store.create(sampleFlag('tag-b', { tags: { category: 'cleanup' } }), actor);
    await store.create(sampleFlag('tag-c', { tags: { category: 'ui' } }), actor);
    const changes = await store.disableByTag({ name: 'category', value: 'cleanup' }, actor);
    expect(changes.map((c) => [c.key, c.changed])).toEqual([
      ['tag-a', true],
      ['tag-b', true],
    ]);
    expect(changes[0]?.revision).toBe(changes[1]?.revision);
    for (const key of ['tag-a', 'tag-b']) {
      const { flag: f } = await store.get(key);
      expect(Object.values(f.environments).every((e) => !e.enabled)).toBe(true);
    }
    const { flag: c } = await store.get('tag-c');
    expect(Object.values(c.environments).every((e) => e.enabled)).toBe(true);
    expect(await store.disableByTag({ name: 'category', value: 'none' }, actor)).toEqual([]);
  });

  it('bumps the revision of only the environments whose payload changed', async () => {
    await store.create(sampleFlag('env-rev'), actor);
    const before = await store.snapshot();
    await store.setRollout('env-rev', 30, { ...actor, env: 'production' });
    const after = await store.snapshot();
    expect(environmentRevision(after, 'production')).toBeGreaterThan(
      environmentRevision(before, 'production'),
    );
    expect(environmentRevision(after, 'staging')).toBe(environmentRevision(before, 'staging'));
  });

  it('serialises concurrent changes: every one gets its own version', async () => {
    await store.create(sampleFlag('race'), actor);
    const changes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.setRollout('race', i + 1, { ...actor, env: 'production' }),
      ),
    );
    expect(changes.map((c) => c.version).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('announces each committed change on channel cutover_flags, and nothing for a rolled-back one', async () => {
    const received: FlagNotification[] = [];
    const listener = await listenForFlagChanges(db.url, {
      onNotification: (n) => received.push(n),
    });
    try {
      await store.create(sampleFlag('notify'), actor);
      await rejection(store.create(sampleFlag('notify'), actor));
      await store.setRollout('notify', 70, { ...actor, env: 'production' });
      await expect.poll(() => received.length).toBe(2);
      const last = received[1];
      expect(last?.type).toBe('flags');
      if (last?.type === 'flags')
        expect(Object.keys(last.environments ?? {})).toEqual(['production']);
    } finally {
      await listener.close();
    }
  });

  it('round-trips export and import, and imports all or nothing', async () => {
    const exported = await store.export();
    expect(exported.flags.length).toBeGreaterThan(3);
    const other = await createTestDatabase('flagimport');
    try {
      await ensureControlSchema(other.pool);
      const target = createFlagStore(other.pool);
      const changes = await target.import(exported, actor);
      expect(changes.every((c) => c.changed && c.action === 'import')).toBe(true);
      expect((await target.export()).flags).toEqual(exported.flags);
      expect((await target.import(exported, actor)).every((c) => !c.changed)).toBe(true);

      const broken = {
        ...exported,
        flags: [
          ...exported.flags,
          { key: 'x', environments: { p: { enabled: 1, strategies: [] } } },
        ],
      };
      const error = await rejection(target.import(broken, actor));
      expect(error.code).toBe('FLAG_INVALID');
      const paths = (error.details?.issues as { path: string }[]).map((i) => i.path);
      expect(paths).toContain(`$.flags[${exported.flags.length}].environments.p.enabled`);
      expect(await target.find('x')).toBeUndefined();

      const replaced = await target.import(
        { flags: [sampleFlag('only-one')] },
        { ...actor, mode: 'replace' },
      );
      expect(replaced.filter((c) => c.action === 'delete')).toHaveLength(exported.flags.length);
      expect((await target.list()).map((r) => r.flag.key)).toEqual(['only-one']);
    } finally {
      await other.drop();
    }
  });

  it('stores segments, validates references to them, serves them in the snapshot and refuses to delete one in use', async () => {
    const segment = {
      id: 7,
      name: 'beta',
      constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'] }],
    };
    const put = await store.putSegment(segment, actor);
    expect(put).toMatchObject({ id: 7, changed: true });
    expect(await store.putSegment(segment, actor)).toMatchObject({ changed: false });
    const withSegment = sampleFlag('segmented');
    const strategy = withSegment.environments.production?.strategies[0];
    if (strategy !== undefined) strategy.segments = [7];
    await store.create(withSegment, actor);
    const dangling = sampleFlag('dangling');
    const other = dangling.environments.production?.strategies[0];
    if (other !== undefined) other.segments = [99];
    expect((await rejection(store.create(dangling, actor))).code).toBe('FLAG_INVALID');
    expect((await store.snapshot()).segments).toEqual([
      expect.objectContaining({ id: 7, name: 'beta' }),
    ]);
    expect(await rejection(store.deleteSegment(7, actor))).toMatchObject({
      code: 'SEGMENT_IN_USE',
      category: 'refused',
    });
    await store.delete('segmented', actor);
    expect(await store.deleteSegment(7, actor)).toMatchObject({ segment: null, changed: true });
    expect((await rejection(store.deleteSegment(7, actor))).code).toBe('SEGMENT_NOT_FOUND');
  });

  it('patches rollout, users and enabled as one version that restoreVersion undoes exactly', async () => {
    await store.create(sampleFlag('patched'), actor);
    const before = (await store.get('patched')).flag;
    const change = await store.patch(
      'patched',
      { rollout: 25, users: ['ann', ' bob', 'ann', ''], enabled: true },
      { ...actor, env: 'production' },
    );
    expect(change).toMatchObject({
      action: 'patch',
      version: 2,
      previousVersion: 1,
      changed: true,
    });
    const strategies = change.flag?.environments.production?.strategies ?? [];
    expect(strategies.map((s) => [s.name, s.parameters?.rollout ?? s.parameters?.userIds])).toEqual(
      [
        ['flexibleRollout', '25'],
        ['userWithId', 'ann,bob'],
      ],
    );
    const same = await store.patch(
      'patched',
      { rollout: 25, users: ['ann', 'bob'] },
      { ...actor, env: 'production' },
    );
    expect(same.changed).toBe(false);
    const cleared = await store.patch('patched', { users: [] }, { ...actor, env: 'production' });
    expect(cleared.flag?.environments.production?.strategies.map((s) => s.name)).toEqual([
      'flexibleRollout',
    ]);
    await store.restoreVersion('patched', change.previousVersion, actor);
    expect((await store.get('patched')).flag).toEqual(before);
    expect((await rejection(store.patch('patched', {}, actor))).code).toBe('FLAG_PATCH_EMPTY');
    expect((await rejection(store.patch('patched', { users: ['a,b'] }, actor))).code).toBe(
      'FLAG_USERS_INVALID',
    );
  });

  it('applies a change with an operationId once and returns the recorded versions when it is repeated', async () => {
    await store.create(sampleFlag('idempotent'), actor);
    const meta = { ...actor, env: 'production', operationId: 'run:1:rollout.0' };
    const first = await store.setRollout('idempotent', 40, meta);
    expect(first).toMatchObject({ changed: true, version: 2, previousVersion: 1 });
    await store.setRollout('idempotent', 60, { ...actor, env: 'production' });
    const again = await store.setRollout('idempotent', 40, meta);
    expect(again).toMatchObject({ changed: false, version: 2, previousVersion: 1 });
    expect(
      (await store.get('idempotent')).flag.environments.production?.strategies[0]?.parameters
        ?.rollout,
    ).toBe('60');
    const history = await store.history('idempotent');
    expect(history.map((v) => [v.version, v.previousVersion, v.operationId])).toEqual([
      [3, 2, null],
      [2, 1, 'run:1:rollout.0'],
      [1, 0, null],
    ]);
  });

  it('keeps the version history and the audit log append-only', async () => {
    await store.create(sampleFlag('immutable'), actor);
    for (const sql of [
      `update cutover.flag_versions set actor = 'mallory' where key = 'immutable'`,
      `delete from cutover.flag_events where flag_key = 'immutable'`,
      'truncate cutover.flag_versions',
    ]) {
      await expect(db.pool.query(sql)).rejects.toThrow(/append-only/);
    }
  });

  it('writes every change to the audit log with its actor', async () => {
    await store.create(sampleFlag('audited'), { actor: 'token-ci', reason: 'why not' });
    const events = await store.events({ key: 'audited' });
    expect(events[0]).toMatchObject({
      actor: 'token-ci',
      action: 'create',
      flagKey: 'audited',
      reason: 'why not',
    });
  });
});
