import fc from 'fast-check';
import murmurhash3js from 'murmurhash3js';
import {
  normalizedStrategyValue,
  normalizedVariantValue,
} from 'unleash-client/lib/strategy/util.js';
import { describe, expect, it } from 'vitest';
import {
  murmurHash3X86_32,
  normalizedHash,
  PrefixedMurmurHash,
  VARIANT_HASH_SEED,
} from './normalized-hash.js';

/**
 * Raw vectors: [id, groupId, murmur3_x86_32("groupId:id", 0), rollout bucket 1..100,
 * variant bucket 1..1000 with seed 86028157]. "123"/"gr1" → 73 and "999"/"groupX" → 25
 * are the vectors of the Unleash SDK test suites; non-ASCII ids hash the low byte of
 * each UTF-16 code unit, as unleash-client (murmurhash3js) does.
 */
const VECTORS: [string, string, number, number, number][] = [
  ['123', 'gr1', 538421172, 73, 796],
  ['999', 'groupX', 3843606124, 25, 260],
  ['174', 'Feature.flexibleRollout.10', 3067997709, 10, 156],
  ['user-1', 'new-dashboard', 3681965130, 31, 208],
  ['', 'x', 2554223185, 86, 29],
  ['ø', 'g', 2790444551, 52, 301],
  ['Hellø Wørld', 'g', 1507239643, 44, 857],
  ['吉 星 高 照', 'g', 2291872950, 51, 694],
  ['😊', 'g', 3111328745, 46, 107],
  ['José', 'checkout', 1439544030, 31, 599],
  ['Ā', 'g', 2584323845, 46, 486],
];

describe('hashing contract: murmur3_x86_32(groupId:id) normalized to 1..normalizer', () => {
  for (const [id, groupId, raw, bucket, variantBucket] of VECTORS) {
    it(`vector ${JSON.stringify(id)} in group ${JSON.stringify(groupId)}`, () => {
      expect(murmurHash3X86_32(`${groupId}:${id}`, 0)).toBe(raw);
      expect(new PrefixedMurmurHash(`${groupId}:`, 0).hash(id)).toBe(raw);
      expect(normalizedHash(id, groupId)).toBe(bucket);
      expect(normalizedHash(id, groupId, 1000, VARIANT_HASH_SEED)).toBe(variantBucket);
      // The official SDK agrees on every vector.
      expect(murmurhash3js.x86.hash32(`${groupId}:${id}`, 0)).toBe(raw);
      expect(normalizedStrategyValue(id, groupId)).toBe(bucket);
      expect(normalizedVariantValue(id, groupId, 1000)).toBe(variantBucket);
    });
  }

  it('matches unleash-client bit for bit for arbitrary (also non-ASCII) ids and groups', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.integer({ min: 1, max: 10_000 }),
        (id, groupId, normalizer) => {
          expect(normalizedHash(id, groupId)).toBe(normalizedStrategyValue(id, groupId));
          expect(normalizedHash(id, groupId, normalizer, VARIANT_HASH_SEED)).toBe(
            normalizedVariantValue(id, groupId, normalizer),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('resuming from a precomputed prefix equals hashing the whole string, for every alignment', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 24 }),
        fc.string({ unit: 'binary', maxLength: 24 }),
        fc.integer(),
        (prefix, id, seed) => {
          expect(new PrefixedMurmurHash(prefix, seed).hash(id)).toBe(
            murmurHash3X86_32(prefix + id, seed),
          );
          expect(murmurHash3X86_32(prefix + id, seed)).toBe(
            murmurhash3js.x86.hash32(prefix + id, seed),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('buckets lie in 1..normalizer', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 1, max: 1000 }), (id, g, n) => {
        const b = normalizedHash(id, g, n);
        expect(b).toBeGreaterThanOrEqual(1);
        expect(b).toBeLessThanOrEqual(n);
      }),
    );
  });
});
