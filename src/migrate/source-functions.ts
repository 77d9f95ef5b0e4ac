/**
 * The functions of the migration sources (mig-src) the migrator builds on,
 * re-exported from one place.
 */
export { compareVersions, isValidVersion } from './compare-versions.js';
export { mapServerErrorPosition } from './text-position.js';
export { analyzeStatement } from './analyze-statement.js';
export { detectLayout, loadMigrations } from './load-migrations.js';
