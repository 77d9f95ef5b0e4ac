import { Address4, Address6 } from 'ip-address';

/**
 * IP and CIDR matching with the semantics of `unleash-client` (which uses the
 * `ip-address` package): ranges are parsed once with `ip-address`; a plain
 * dotted-quad context address takes a fast numeric path that gives the same
 * answer as `Address4#isInSubnet`, anything else goes through `ip-address`.
 */

/** A plain IPv4 address as `ip-address` accepts it (no leading zeros, no suffix). */
const PLAIN_IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** The IPv4 address as an unsigned 32-bit number, or -1 when not a plain dotted quad. */
export function parsePlainIPv4(value: string): number {
  if (value.length > 15 || value.length < 7) return -1;
  const m = PLAIN_IPV4.exec(value);
  if (m === null) return -1;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** An IPv4 range: network bits and prefix length, plus the parsed `Address4`. */
export interface IPv4Range {
  readonly address: Address4;
  /** Network address (host bits cleared), unsigned. */
  readonly network: number;
  /** Mask, unsigned. */
  readonly mask: number;
}

/** Parses an IPv4 address or CIDR range, or returns null when `ip-address` rejects it. */
export function parseIPv4Range(range: string): IPv4Range | null {
  let address: Address4;
  try {
    address = new Address4(range);
  } catch {
    return null;
  }
  const bits = address.subnetMask;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const base = address.correctForm().split('.');
  const value =
    ((Number(base[0]) << 24) |
      (Number(base[1]) << 16) |
      (Number(base[2]) << 8) |
      Number(base[3])) >>>
    0;
  return { address, network: (value & mask) >>> 0, mask };
}

/** Parses an IPv6 address or CIDR range, or returns null when `ip-address` rejects it. */
export function parseIPv6Range(range: string): Address6 | null {
  try {
    return new Address6(range);
  } catch {
    return null;
  }
}

/** True when the plain IPv4 `ip` (from {@link parsePlainIPv4}) lies in `range`. */
export function ipv4InRange(ip: number, range: IPv4Range): boolean {
  return (ip & range.mask) >>> 0 === range.network;
}

/** Parses a context address with `ip-address` (slow path), or null. */
export function parseAddress4(value: string): Address4 | null {
  try {
    return new Address4(value);
  } catch {
    return null;
  }
}

/** Parses a context address with `ip-address` (slow path), or null. */
export function parseAddress6(value: string): Address6 | null {
  try {
    return new Address6(value);
  } catch {
    return null;
  }
}

/** `unleash-client`'s `matchesRange`: same address, or inside the subnet. */
export function addressMatches(address: Address4 | Address6, range: Address4 | Address6): boolean {
  try {
    return address.correctForm() === range.correctForm() || address.isInSubnet(range);
  } catch {
    return false;
  }
}
