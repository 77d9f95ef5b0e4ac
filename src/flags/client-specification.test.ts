import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDeltaEvents, createEvaluator, type DeltaEvent } from './index.js';
import type { ClientFeaturesResponse, FlagContext } from './model.js';

interface SpecCase {
  description: string;
  context: FlagContext;
  toggleName: string;
  expectedResult: unknown;
}
interface SpecFile {
  name: string;
  state: ClientFeaturesResponse | { events: DeltaEvent[] };
  tests?: SpecCase[];
  variantTests?: SpecCase[];
}

const require = createRequire(import.meta.url);
const specDir = join(
  dirname(require.resolve('@unleash/client-specification/package.json')),
  'specifications',
);
const index = JSON.parse(readFileSync(join(specDir, 'index.json'), 'utf8')) as string[];

function load(file: string): SpecFile {
  return JSON.parse(readFileSync(join(specDir, file), 'utf8')) as SpecFile;
}

function payloadOf(spec: SpecFile): ClientFeaturesResponse {
  return 'events' in spec.state ? applyDeltaEvents(spec.state.events) : spec.state;
}

describe('@unleash/client-specification', () => {
  it('index lists every specification file', () => {
    expect(index.length).toBeGreaterThanOrEqual(22);
  });
  for (const file of index) {
    const spec = load(file);
    describe(file, () => {
      const evaluator = createEvaluator(payloadOf(spec));
      for (const t of spec.tests ?? []) {
        it(`isEnabled: ${t.description}`, () => {
          expect(evaluator.isEnabled(t.toggleName, t.context)).toBe(t.expectedResult);
          expect(evaluator.evaluate(t.toggleName, t.context).enabled).toBe(t.expectedResult);
        });
      }
      for (const t of spec.variantTests ?? []) {
        it(`getVariant: ${t.description}`, () => {
          expect(evaluator.getVariant(t.toggleName, t.context)).toEqual(t.expectedResult);
          expect(evaluator.evaluate(t.toggleName, t.context).variant).toEqual(t.expectedResult);
        });
      }
    });
  }
});
