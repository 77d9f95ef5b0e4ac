import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions } from './compare-versions.js';
import type { HistoryEntry } from './history.js';
import type { Migration, MigrationLayout } from './migration.js';
import { computeStatus, validateStatus, versionKey } from './migration-status.js';

const layouts: MigrationLayout[] = ['native', 'golang-migrate', 'flyway', 'prisma', 'typescript'];
const integerVersion = fc.stringMatching(/^[0-9]{1,16}$/);
const flywayVersion = fc
  .array(fc.stringMatching(/^[0-9]{1,4}$/), { minLength: 1, maxLength: 4 })
  .chain((parts) => fc.constantFrom('.', '_').map((sep) => parts.join(sep)));

function migration(version: string | undefined, name: string, checksum = `sum-${name}`): Migration {
  const file = `/m/${version ?? 'R'}_${name}.sql`;
  return {
    version,
    name,
    layout: 'native',
    kind: version === undefined ? 'repeatable' : 'versioned',
    checksum,
    up: { type: 'sql', file, fileText: '', statements: [], transactional: true },
    files: [file],
  };
}

function row(version: string | null, name: string, checksum: string, id: number): HistoryEntry {
  return {
    id,
    version,
    name,
    kind: version === null ? 'repeatable' : 'versioned',
    checksum,
    appliedAt: new Date(0),
    executionMs: 1,
    appliedBy: 't',
    runId: null,
    source: 'cutover',
  };
}

describe('versionKey', () => {
  it('gives two versions the same key exactly when compareVersions says they are equal (property)', () => {
    for (const layout of layouts) {
      const version = layout === 'flyway' ? flywayVersion : integerVersion;
      fc.assert(
        fc.property(version, version, (a, b) => {
          expect(versionKey(a, layout) === versionKey(b, layout)).toBe(
            compareVersions(a, b, layout) === 0,
          );
        }),
      );
    }
  });
});

describe('computeStatus', () => {
  it('lists every file and every history row exactly once, in version order (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 12 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 12 }),
        (fileVersions, appliedVersions) => {
          const migrations = fileVersions
            .sort((a, b) => a - b)
            .map((v) => migration(String(v).padStart(4, '0'), `m${v}`));
          const history = appliedVersions.map((v, i) =>
            row(String(v).padStart(4, '0'), `m${v}`, `sum-m${v}`, i + 1),
          );
          const report = computeStatus(migrations, history, [], 'native');
          const versions = report.migrations.map((e) => Number(e.version));
          expect(versions).toEqual(
            [...new Set([...fileVersions, ...appliedVersions])].sort((a, b) => a - b),
          );
          for (const e of report.migrations) {
            const inFiles = fileVersions.includes(Number(e.version));
            const inHistory = appliedVersions.includes(Number(e.version));
            expect(e.state).toBe(inFiles ? (inHistory ? 'applied' : 'pending') : 'missing');
            if (e.state === 'pending') {
              expect(e.outOfOrder === true).toBe(
                appliedVersions.some((v) => v > Number(e.version)),
              );
            }
          }
        },
      ),
    );
  });

  it('matches versions numerically, so 0002 in the history is 2 in the files', () => {
    const report = computeStatus(
      [migration('2', 'b')],
      [row('0002', 'b', 'sum-b', 1)],
      [],
      'golang-migrate',
    );
    expect(report.migrations.map((e) => e.state)).toEqual(['applied']);
  });

  it('puts repeatables last and marks a changed one pending, not modified', () => {
    const report = computeStatus(
      [migration('1', 'a'), migration(undefined, 'view', 'new')],
      [row('1', 'a', 'sum-a', 1), row(null, 'view', 'old', 2)],
      [],
      'flyway',
    );
    expect(report.migrations.map((e) => [e.name, e.state, e.changed])).toEqual([
      ['a', 'applied', undefined],
      ['view', 'pending', true],
    ]);
    expect(validateStatus(report).ok).toBe(true);
  });
});
