/**
 * Bucketing hash of the Unleash client specification: MurmurHash3 x86_32 of
 * `groupId:id`, normalized to 1..normalizer.
 *
 * MurmurHash3 is Austin Appleby's public-domain hash
 * (https://github.com/aappleby/smhasher, `MurmurHash3_x86_32`). The official
 * Node SDK (`unleash-client`) hashes with the `murmurhash3js` package, which
 * feeds the hash the LOW BYTE of every UTF-16 code unit (`charCodeAt(i) & 0xff`)
 * and uses the string's UTF-16 length as the byte length — not UTF-8 bytes.
 * For ASCII ids both are the same; for non-ASCII ids they differ (see
 * pid/murmurHash3js#3). cutover follows `unleash-client` bit for bit, so a
 * Node app moving from `unleash-client` to cutover keeps every user in the same
 * bucket; the vectors in `normalized-hash.test.ts` are checked against
 * `unleash-client`'s own function.
 *
 * Hand-written (instead of depending on `murmurhash3js`) for speed: it uses
 * `Math.imul`, and {@link PrefixedMurmurHash} resumes from the precomputed state
 * of the constant `groupId:` prefix, so evaluating a rollout neither
 * concatenates strings nor re-hashes the group id.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Seed of the rollout (strategy) hash in the Unleash client specification. */
export const STRATEGY_HASH_SEED = 0;
/** Seed of the variant hash in the Unleash client specification. */
export const VARIANT_HASH_SEED = 86028157;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86_32 (Austin Appleby) of `key`, as an unsigned 32-bit integer,
 * with the byte convention of `murmurhash3js` / `unleash-client`: byte i is
 * `key.charCodeAt(i) & 0xff`, length is `key.length` (UTF-16 code units).
 * @param key the string to hash
 * @param seed 32-bit seed, default 0
 */
export function murmurHash3X86_32(key: string, seed = 0): number {
  const length = key.length;
  const blocks = length & ~3;
  let h = seed | 0;
  let i = 0;
  for (; i < blocks; i += 4) {
    h = mixH(
      h,
      (key.charCodeAt(i) & 0xff) |
        ((key.charCodeAt(i + 1) & 0xff) << 8) |
        ((key.charCodeAt(i + 2) & 0xff) << 16) |
        ((key.charCodeAt(i + 3) & 0xff) << 24),
    );
  }
  const rest = length & 3;
  if (rest !== 0) {
    let k = key.charCodeAt(i) & 0xff;
    if (rest > 1) k |= (key.charCodeAt(i + 1) & 0xff) << 8;
    if (rest > 2) k |= (key.charCodeAt(i + 2) & 0xff) << 16;
    h ^= mixK(k);
  }
  return fmix(h, length);
}

/**
 * The normalized bucket of `id` in group `groupId`: `(murmur3_x86_32(groupId + ':' + id, seed) % normalizer) + 1`,
 * an integer in 1..normalizer — exactly `normalizedValue` of `unleash-client`.
 * Rollouts use normalizer 100 and seed 0 (enabled when bucket ≤ rollout %);
 * variants use the sum of the variant weights and seed {@link VARIANT_HASH_SEED} (86028157).
 * @param id the stickiness value (userId, sessionId, custom field, …)
 * @param groupId the rollout's group id (by default the flag name)
 * @param normalizer bucket count, default 100
 * @param seed hash seed, default 0
 */
export function normalizedHash(id: string, groupId: string, normalizer = 100, seed = 0): number {
  return (murmurHash3X86_32(`${groupId}:${id}`, seed) % normalizer) + 1;
}

/**
 * MurmurHash3 x86_32 of `prefix + id` for a fixed prefix, resuming from the
 * hash state after the prefix's whole 4-byte blocks. Same result as
 * `murmurHash3X86_32(prefix + id, seed)`, without building the string.
 */
export class PrefixedMurmurHash {
  private readonly state: number;
  /** Bytes of the prefix after its last whole block, little-endian. */
  private readonly tail: number;
  /** Number of those bytes (0..3). */
  private readonly tailLength: number;
  private readonly prefixLength: number;

  constructor(prefix: string, seed = 0) {
    const length = prefix.length;
    const blocks = length & ~3;
    let h = seed | 0;
    for (let i = 0; i < blocks; i += 4) {
      h = mixH(
        h,
        (prefix.charCodeAt(i) & 0xff) |
          ((prefix.charCodeAt(i + 1) & 0xff) << 8) |
          ((prefix.charCodeAt(i + 2) & 0xff) << 16) |
          ((prefix.charCodeAt(i + 3) & 0xff) << 24),
      );
    }
    let tail = 0;
    for (let i = blocks; i < length; i++)
      tail |= (prefix.charCodeAt(i) & 0xff) << (8 * (i - blocks));
    this.state = h;
    this.tail = tail;
    this.tailLength = length - blocks;
    this.prefixLength = length;
  }

  /** The unsigned 32-bit hash of `prefix + id`. */
  hash(id: string): number {
    const n = id.length;
    let h = this.state;
    let k = this.tail;
    let i = 0;
    const r = this.tailLength;
    if (r !== 0) {
      // Complete the prefix's partial block with the first bytes of id.
      const need = 4 - r;
      if (n < need) {
        for (; i < n; i++) k |= (id.charCodeAt(i) & 0xff) << (8 * (r + i));
        h ^= mixK(k);
        return fmix(h, this.prefixLength + n);
      }
      for (; i < need; i++) k |= (id.charCodeAt(i) & 0xff) << (8 * (r + i));
      h = mixH(h, k);
    }
    const end = i + ((n - i) & ~3);
    for (; i < end; i += 4) {
      h = mixH(
        h,
        (id.charCodeAt(i) & 0xff) |
          ((id.charCodeAt(i + 1) & 0xff) << 8) |
          ((id.charCodeAt(i + 2) & 0xff) << 16) |
          ((id.charCodeAt(i + 3) & 0xff) << 24),
      );
    }
    const rest = n - i;
    if (rest !== 0) {
      k = id.charCodeAt(i) & 0xff;
      if (rest > 1) k |= (id.charCodeAt(i + 1) & 0xff) << 8;
      if (rest > 2) k |= (id.charCodeAt(i + 2) & 0xff) << 16;
      h ^= mixK(k);
    }
    return fmix(h, this.prefixLength + n);
  }
}
