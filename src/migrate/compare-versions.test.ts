import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { compareVersions } from './compare-versions.js';
import type { MigrationLayout } from './migration.js';

const sign = (n: number): number => Math.sign(n);

describe('compareVersions', () => {
  it('orders Flyway versions numerically part by part', () => {
    expect(sign(compareVersions('1.10', '1.9', 'flyway'))).toBe(1);
    expect(sign(compareVersions('1.9', '1.10', 'flyway'))).toBe(-1);
    expect(sign(compareVersions('2', '1.99.99', 'flyway'))).toBe(1);
    expect(compareVersions('2_1', '2.1', 'flyway')).toBe(0);
    expect(compareVersions('1', '1.0.0', 'flyway')).toBe(0);
    expect(compareVersions('001.02', '1.2', 'flyway')).toBe(0);
    expect(sign(compareVersions('1.0.1', '1', 'flyway'))).toBe(1);
  });

  it('orders integer versions numerically, whatever their width', () => {
    for (const layout of ['native', 'golang-migrate', 'prisma', 'typescript'] as const) {
      expect(sign(compareVersions('10', '9', layout))).toBe(1);
      expect(compareVersions('0002', '2', layout)).toBe(0);
      expect(sign(compareVersions('20240101120000', '20231231235959', layout))).toBe(1);
      expect(sign(compareVersions('99999999999999999999', '99999999999999999998', layout))).toBe(1);
    }
  });

  it('sorts invalid versions after valid ones', () => {
    expect(sign(compareVersions('1.2', '1.x', 'flyway'))).toBe(-1);
    expect(sign(compareVersions('abc', '1', 'native'))).toBe(1);
  });

  const parts = fc.array(fc.nat({ max: 1200 }), { minLength: 1, maxLength: 4 });
  const numeric = (p: number[], q: number[]): number => {
    for (let i = 0; i < Math.max(p.length, q.length); i++) {
      const d = (p[i] ?? 0) - (q[i] ?? 0);
      if (d !== 0) return Math.sign(d);
    }
    return 0;
  };
  const render = (p: number[], seps: string[], pad: number[]): string =>
    p
      .map((n, i) => (i === 0 ? '' : (seps[i] ?? '.')) + String(n).padStart(pad[i] ?? 0, '0'))
      .join('');
  const rendering = fc.tuple(
    fc.array(fc.constantFrom('.', '_'), { minLength: 4, maxLength: 4 }),
    fc.array(fc.nat({ max: 3 }), { minLength: 4, maxLength: 4 }),
  );

  it('agrees with numeric order for generated dotted versions (any separators and zero padding)', () => {
    fc.assert(
      fc.property(parts, parts, rendering, rendering, (p, q, [sp, pp], [sq, pq]) => {
        expect(sign(compareVersions(render(p, sp, pp), render(q, sq, pq), 'flyway'))).toBe(
          numeric(p, q),
        );
      }),
    );
  });

  it('is a total order: antisymmetric and transitive', () => {
    const version = fc.oneof(
      fc.tuple(parts, rendering).map(([p, [s, pad]]) => render(p, s, pad)),
      fc.string({ maxLength: 4 }),
    );
    const layouts = fc.constantFrom<MigrationLayout>('flyway', 'native');
    fc.assert(
      fc.property(version, version, version, layouts, (a, b, c, layout) => {
        expect(sign(compareVersions(a, b, layout)) + sign(compareVersions(b, a, layout))).toBe(0);
        if (compareVersions(a, b, layout) <= 0 && compareVersions(b, c, layout) <= 0) {
          expect(compareVersions(a, c, layout)).toBeLessThanOrEqual(0);
        }
        expect(compareVersions(a, a, layout)).toBe(0);
      }),
    );
  });
});
