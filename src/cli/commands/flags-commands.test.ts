import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/test-database.js';
import type { Flag } from '../../flags/model.js';
import { startServer, type RunningServer } from '../../server/start-server.js';

const run = promisify(execFile);
const main = join(import.meta.dirname, '..', 'main.ts');
const tsx = join(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');

let db: TestDatabase;
let cwd: string;

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, [main, ...args], {
      cwd,
      env: { ...process.env, DATABASE_URL: db.url, CUTOVER_ACTOR: 'cli-tester', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function json<T>(result: { stdout: string }): T {
  return JSON.parse(result.stdout) as T;
}

beforeAll(async () => {
  db = await createTestDatabase('cliflags');
  cwd = await mkdtemp(join(tmpdir(), 'cutover-cli-flags-'));
});
afterAll(async () => {
  await db.drop();
  await rm(cwd, { recursive: true, force: true });
});

describe('cutover tokens', () => {
  it('creates a token shown once, lists it without its secret, revokes it; bad input exits 2, unknown name 6', async () => {
    const created = await cli([
      'tokens',
      'create',
      '--name',
      'ci',
      '--type',
      'client',
      '--env',
      'production',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const { token } = json<{ token: string }>(created);
    expect(token).toMatch(/^\*:production\.[0-9a-f]{64}$/);
    const list = await cli(['tokens', 'list']);
    expect(list.stdout).toContain('ci');
    expect(list.stdout).not.toContain(token.split('.')[1]);
    expect((await cli(['tokens', 'create', '--name', 'no-env', '--type', 'client'])).code).toBe(2);
    expect(
      (await cli(['tokens', 'create', '--name', 'ci', '--type', 'client', '--env', 'production']))
        .code,
    ).toBe(7);
    expect((await cli(['tokens', 'revoke', 'ci'])).code).toBe(0);
    const missing = await cli(['tokens', 'revoke', 'ci']);
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain('TOKEN_NOT_FOUND');
  });
});

describe('cutover flags (database)', () => {
  it('creates, sets the rollout, disables, enables, shows history and restores', async () => {
    const created = await cli([
      'flags',
      'create',
      'new-dashboard',
      '--env',
      'production',
      '--env',
      'staging',
      '--rollout',
      '5',
      '--tag',
      'category=migration',
      '--description',
      'v2',
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(json<{ version: number }>(created).version).toBe(1);

    const set = await cli([
      'flags',
      'set',
      'new-dashboard',
      '--rollout',
      '20',
      '--env',
      'production',
      '--reason',
      'phase 2',
    ]);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('production: on 20%');
    expect(set.stdout).toContain('staging: on 5%');

    expect((await cli(['flags', 'disable', 'new-dashboard', '--env', 'staging'])).code).toBe(0);
    const got = json<{ flag: Flag; version: number }>(
      await cli(['flags', 'get', 'new-dashboard', '--json']),
    );
    expect(got.version).toBe(3);
    expect(got.flag.environments.staging?.enabled).toBe(false);

    const history = json<{ versions: { version: number; actor: string; reason: string | null }[] }>(
      await cli(['flags', 'history', 'new-dashboard', '--json']),
    );
    expect(history.versions.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(history.versions[1]).toMatchObject({ actor: 'cli-tester', reason: 'phase 2' });

    const restored = await cli(['flags', 'restore', 'new-dashboard', '1', '--json']);
    expect(json<{ action: string; version: number }>(restored)).toMatchObject({
      action: 'restore',
      version: 4,
    });
    const list = await cli(['flags', 'list']);
    expect(list.stdout).toContain('production: on 5%');
  });

  it('disables every flag with a tag in one command', async () => {
    await cli([
      'flags',
      'create',
      'mig-a',
      '--env',
      'production',
      '--rollout',
      '50',
      '--tag',
      'category=cleanup',
    ]);
    await cli([
      'flags',
      'create',
      'mig-b',
      '--env',
      'production',
      '--rollout',
      '50',
      '--tag',
      'category=cleanup',
    ]);
    const result = await cli(['flags', 'disable-all', '--tag', 'category=cleanup', '--json']);
    expect(result.code).toBe(0);
    const { changes } = json<{ changes: { key: string; changed: boolean }[] }>(result);
    expect(changes.map((c) => [c.key, c.changed])).toEqual([
      ['mig-a', true],
      ['mig-b', true],
    ]);
    expect((await cli(['flags', 'list', '--tag', 'category=cleanup'])).stdout).not.toContain(
      'production: on',
    );
  });

  it('exports to a file and imports it back (round trip)', async () => {
    const file = join(cwd, 'flags.json');
    expect((await cli(['flags', 'export', '--out', file])).code).toBe(0);
    const exported = JSON.parse(await readFile(file, 'utf8')) as { flags: Flag[] };
    expect(exported.flags.map((f) => f.key)).toEqual(
      expect.arrayContaining(['new-dashboard', 'mig-a']),
    );
    const other = await createTestDatabase('cliimport');
    try {
      const imported = await cli(['flags', 'import', file, '--json'], { DATABASE_URL: other.url });
      expect(imported.code).toBe(0);
      const back = json<{ flags: Flag[] }>(
        await cli(['flags', 'export', '--json'], { DATABASE_URL: other.url }),
      );
      expect(back.flags).toEqual(exported.flags);
    } finally {
      await other.drop();
    }
  });

  it('exits 6 for an unknown flag, 2 for an invalid definition or rollout, naming the JSON path', async () => {
    const missing = await cli(['flags', 'get', 'nope']);
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain('FLAG_NOT_FOUND');
    const file = join(cwd, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({
        key: 'bad',
        environments: { production: { enabled: 'yes', strategies: [] } },
      }),
    );
    const invalid = await cli(['flags', 'create', 'bad', '--file', file, '--json']);
    expect(invalid.code).toBe(2);
    const error = json<{ error: { code: string; details: { issues: { path: string }[] } } }>(
      invalid,
    ).error;
    expect(error.code).toBe('FLAG_INVALID');
    expect(error.details.issues.map((i) => i.path)).toContain('$.environments.production.enabled');
    expect((await cli(['flags', 'set', 'new-dashboard', '--rollout', '120'])).code).toBe(2);
    expect((await cli(['flags', 'set', 'new-dashboard'])).code).toBe(2);
    expect((await cli(['flags', 'frobnicate'])).code).toBe(2);
  });
});

describe('cutover flags --server', () => {
  let server: RunningServer;
  let admin: string;
  let client: string;
  beforeAll(async () => {
    admin = json<{ token: string }>(
      await cli(['tokens', 'create', '--name', 'remote-admin', '--type', 'admin', '--json']),
    ).token;
    client = json<{ token: string }>(
      await cli(['tokens', 'create', '--name', 'remote-client', '--env', 'production', '--json']),
    ).token;
    server = await startServer({ databaseUrl: db.url, port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('changes flags through the admin API, recording the token name as actor', async () => {
    const remote = { CUTOVER_SERVER: server.url, CUTOVER_TOKEN: admin };
    expect((await cli(['flags', 'create', 'remote', '--env', 'production'], remote)).code).toBe(0);
    const set = await cli([
      'flags',
      'set',
      'remote',
      '--rollout',
      '30',
      '--env',
      'production',
      '--server',
      server.url,
      '--token',
      admin,
      '--json',
    ]);
    expect(set.code).toBe(0);
    const history = json<{ versions: { actor: string }[] }>(
      await cli(['flags', 'history', 'remote', '--json'], remote),
    );
    expect(history.versions.map((v) => v.actor)).toEqual(['remote-admin', 'remote-admin']);
  });

  it('exits 7 with a client token or a wrong token, 6 for an unknown flag, 5 when the server is down', async () => {
    const forbidden = await cli(['flags', 'list', '--server', server.url, '--token', client]);
    expect(forbidden.code).toBe(7);
    expect(forbidden.stderr).toContain('TOKEN_FORBIDDEN');
    expect((await cli(['flags', 'list', '--server', server.url, '--token', 'wrong'])).code).toBe(7);
    expect(
      (await cli(['flags', 'get', 'nope', '--server', server.url, '--token', admin])).code,
    ).toBe(6);
    expect(
      (await cli(['flags', 'list', '--server', 'http://127.0.0.1:9', '--token', admin])).code,
    ).toBe(5);
    expect((await cli(['flags', 'list', '--server', server.url])).code).toBe(2);
  });
});

describe('cutover serve', () => {
  it('listens, answers, and shuts down gracefully on SIGTERM with exit code 0', async () => {
    const child = spawn(tsx, [main, 'serve', '--port', '0', '--json'], {
      cwd,
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const started = await new Promise<{ url: string }>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        try {
          resolve(JSON.parse(output) as { url: string });
        } catch {
          // not complete yet
        }
      });
    });
    const health = await fetch(`${started.url}/health`);
    expect(health.status).toBe(200);
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('exits 2 for a bad port', async () => {
    expect((await cli(['serve', '--port', 'abc'])).code).toBe(2);
  });
});
