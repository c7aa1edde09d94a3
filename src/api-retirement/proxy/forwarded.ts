import { BlockList, isIP } from 'node:net';
import type { RequestFacts } from '../match.js';

/**
 * The caller's address behind trusted proxies: walk `X-Forwarded-For` from the right and take the
 * first hop that is not a trusted proxy. Hops an untrusted peer claims are never believed, so a
 * client cannot pick its own identity by sending the header itself.
 */
export function forwardedSource(
  trustedProxies: readonly string[],
): (facts: RequestFacts) => string | undefined {
  const trusted = trustList(trustedProxies);
  return (facts) => {
    let address = plain(facts.remoteAddress);
    if (!address || !isTrusted(trusted, address)) return address;
    const header = facts.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((hop) => plain(hop.trim()))
      .filter((hop): hop is string => Boolean(hop));
    for (let i = hops.length - 1; i >= 0; i--) {
      address = hops[i];
      if (!address || !isTrusted(trusted, address)) return address;
    }
    return address;
  };
}

/** `10.0.0.0/8`, `192.168.1.7`, `::1`, `fd00::/8`; throws on anything else, naming it. */
export function trustList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address);
    if (family === 0) throw new Error(`"${entry}" is not an IP address or CIDR range`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const prefix = Number(bits);
    if (!/^\d+$/.test(bits) || prefix > (family === 6 ? 128 : 32)) {
      throw new Error(`"${entry}" has an invalid prefix length`);
    }
    list.addSubnet(address, prefix, type);
  }
  return list;
}

function isTrusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

function plain(address: string | undefined): string | undefined {
  return address?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '') || undefined;
}
