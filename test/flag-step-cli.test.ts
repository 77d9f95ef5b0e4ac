import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlagStore } from '../src/flags/index.js';
import { ensureControlSchema } from '../src/store/index.js';
import { rolloutFlag } from './helpers/flag-server.js';
import { runCli } from './helpers/run-cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('flagstep_cli');
  await ensureControlSchema(db.pool);
  await createFlagStore(db.pool).create(rolloutFlag('new-dashboard', 0), { actor: 'setup' });
  dir = await mkdtemp(join(tmpdir(), 'cutover-flagstep-cli-'));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

async function planFile(name: string, steps: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `name: ${name}\nenvironment: production\nphases:\n  - name: rollout\n    steps:\n${steps}`,
  );
  return file;
}

describe('`cutover plan` with flag steps', () => {
  it('prints each flag step as current → new state with the version its compensation restores', async () => {
    const file = await planFile(
      'described',
      `      - flag: { key: new-dashboard, rollout: 5 }
      - approve: {}
      - flag: { key: new-dashboard, rollout: 50 }
      - flag: { key: checkout-v2, rollout: 10 }
`,
    );
    const run = await runCli(['plan', file, '--database-url', db.url]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('new-dashboard (production): rollout 0% → 5%');
    expect(run.stdout).toContain('compensation: restore version 1 (rollout 5% → 0%)');
    expect(run.stdout).toContain('new-dashboard (production): rollout 5% → 50%');
    expect(run.stdout).toContain('compensation: restore version 2 (rollout 50% → 5%)');
    expect(run.stdout).toContain('checkout-v2 (production): new flag: on, rollout 10%');
    expect(run.stdout).toContain(
      'compensation: delete the flag (restore version 0: it did not exist)',
    );
  });

  it('reports a flag the plan cannot find or create, with the command that creates it (exit 6)', async () => {
    const file = await planFile('missing', `      - flag: { key: no-such-flag, enabled: true }\n`);
    const run = await runCli(['plan', file, '--database-url', db.url]);
    expect(run.code).toBe(6);
    expect(run.stdout).toContain('Flag "no-such-flag" does not exist');
    expect(run.stdout).toContain('cutover flags create no-such-flag --env production --rollout 0');
  });

  it('`cutover plan schema` includes the flag step', async () => {
    const run = await runCli(['plan', 'schema']);
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.stdout) as Record<string, unknown>;
    const text = JSON.stringify(schema);
    expect(text).toContain('"flag":{');
    expect(text).toContain('"create"');
  });
});
