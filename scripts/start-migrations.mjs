// `npm run start:migrations`: the migration quick start on the embedded PostgreSQL (.cutover/pg).
// It runs the migration example in examples/quickstart end
// to end with the built CLI (dist/, built by `npm ci` through `prepare`):
// dry run, up, status, down, status.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const dir = join('examples', 'quickstart', 'migrations');

if (!existsSync(cli)) {
  console.error('dist/ is missing: run `npm ci` (or `npm run build`) first.');
  process.exit(1);
}

const env = { ...process.env };
delete env.DATABASE_URL; // the quick start always uses the embedded PostgreSQL

const steps = [
  [
    'Dry run: what `up` would do, with the lock each statement takes',
    ['migrate', 'up', '--dry-run'],
  ],
  ['Apply the migrations (one transaction each; the CONCURRENTLY one outside)', ['migrate', 'up']],
  ['Status', ['migrate', 'status']],
  ['Validate the history against the files', ['migrate', 'validate']],
  ['Revert everything with the down sections, newest first', ['migrate', 'down', '--to', '0']],
  ['Status after the rollback', ['migrate', 'status']],
];

for (const [title, args] of steps) {
  console.log(`\n=== ${title}\n$ cutover ${[...args, '--dir', dir].join(' ')}\n`);
  const run = spawnSync(process.execPath, [cli, ...args, '--dir', dir], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    console.error(`\ncutover exited with ${run.status ?? run.signal}; stopping.`);
    process.exit(run.status ?? 1);
  }
}
console.log(
  '\nDone. The embedded PostgreSQL keeps its data in .cutover/pg; point DATABASE_URL (or --database-url) at your own database to use it instead.',
);
