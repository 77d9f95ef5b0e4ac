/**
 * Generates the legacy data of the dashboard-v2 example (see
 * src/generate-dashboards.ts), unless it is already there.
 *
 *   npx tsx examples/dashboard-v2/generate.ts [--users 200000] [--seed 20240601] [--database-url URL]
 *
 * Database: --database-url, else DATABASE_URL, else the embedded PostgreSQL in .cutover/pg.
 */
import { parseArgs } from 'node:util';
import { connect, startEmbeddedServer } from '../../src/db/index.js';
import { ensureDashboardData } from './src/generate-dashboards.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '20240601' },
    'database-url': { type: 'string' },
  },
});
const users = Number(values.users);
const seed = Number(values.seed);
if (!Number.isInteger(users) || users < 1 || !Number.isInteger(seed)) {
  console.error('error USAGE: --users must be a positive integer and --seed an integer');
  process.exit(2);
}
let url = values['database-url'] ?? process.env.DATABASE_URL;
let stop: (() => Promise<void>) | undefined;
if (url === undefined || url === '') {
  const server = await startEmbeddedServer();
  console.error(`Using the embedded PostgreSQL in ${server.dataDir} on port ${server.port}.`);
  url = server.url;
  stop = () => server.stop();
}
const pool = await connect(url);
try {
  const started = Date.now();
  const generated = await ensureDashboardData(pool, {
    users,
    seed,
    onProgress: (n) => process.stderr.write(`\r${n} / ${users} users`),
  });
  process.stderr.write('\n');
  console.log(
    generated === 0
      ? 'legacy_dashboard_configs already holds data; nothing generated.'
      : `Generated ${generated} users with their dashboards in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );
} finally {
  await pool.end();
  await stop?.();
}
