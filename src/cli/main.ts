#!/usr/bin/env node
import { main } from './program.js';

// Process warnings (e.g. node-postgres' multi-line notice about `sslmode=require`)
// as one line on stderr instead of Node's default block.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  const first = warning.message.split('\n').find((line) => line.trim() !== '') ?? warning.name;
  process.stderr.write(`warning: ${first.trim()}\n`);
});

await main(process.argv);
