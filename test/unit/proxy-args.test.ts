import { describe, expect, it } from 'vitest';
import { forwardedSource } from '../../src/api-retirement/proxy/forwarded.js';
import { parseProxyArgs } from '../../src/cli/proxy.js';

const base = ['--service', 'checkout', '--upstream', 'http://127.0.0.1:8080'];

describe('backout proxy arguments', () => {
  it('defaults: listen :8081, admin :9464, client id by source address, 60 s upstream timeout', () => {
    const settings = parseProxyArgs(base);
    expect(settings.listen).toEqual({ port: 8081 });
    expect(settings.admin).toEqual({ port: 9464 });
    expect(settings.clientId).toBe('source');
    expect(settings.upstreamTimeoutMs).toBe(60_000);
    expect(settings.connectTimeoutMs).toBe(5_000);
    expect(settings.upstream.href).toBe('http://127.0.0.1:8080/');
  });

  it('reads hosts, IPv6 hosts, client ids and durations', () => {
    const settings = parseProxyArgs([
      ...base,
      '--listen',
      '[::]:9000',
      '--admin-listen',
      '0.0.0.0:9100',
      '--client-id',
      'api-key:Authorization',
      '--upstream-timeout',
      '90s',
    ]);
    expect(settings.listen).toEqual({ host: '::', port: 9000 });
    expect(settings.admin).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(settings.clientId).toEqual({ apiKeyHeader: 'Authorization' });
    expect(settings.upstreamTimeoutMs).toBe(90_000);
    expect(parseProxyArgs([...base, '--client-id', 'header:X-Client']).clientId).toEqual({
      header: 'X-Client',
    });
  });

  it.each([
    [['--upstream', 'http://x:1'], '--service is required'],
    [['--service', 'checkout'], '--upstream is required'],
    [['--service', 'c', '--upstream', 'ftp://x'], 'must be an http:// or https:// URL, got "ftp://x"'],
    [['--service', 'c', '--upstream', 'x:80'], 'must be an http:// or https:// URL'],
    [['--service', 'c', '--upstream', 'nope'], 'must be an absolute http(s) URL, got "nope"'],
    [[...base, '--listen', '8081'], '--listen must be [host]:port such as :8081, got "8081"'],
    [[...base, '--listen', ':99999'], '--listen must be [host]:port'],
    [[...base, '--client-id', 'cookie:x'], '--client-id must be source, header:<name> or api-key:<header>'],
    [
      [...base, '--trusted-proxies', '10.0.0.0/99'],
      '--trusted-proxies: "10.0.0.0/99" has an invalid prefix length',
    ],
    [[...base, '--trusted-proxies', 'proxy.internal'], 'is not an IP address or CIDR range'],
    [
      [...base, '--upstream-timeout', 'soon'],
      '--upstream-timeout must be a duration such as 30s, got "soon"',
    ],
    [[...base, '--verbose'], 'unknown option --verbose'],
    [[...base, 'extra'], 'unexpected argument "extra"'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseProxyArgs(argv)).toThrow(message);
  });
});

describe('the client address behind trusted proxies', () => {
  const resolve = forwardedSource(['10.0.0.0/8', '::1']);
  const facts = (remoteAddress: string, forwarded?: string) => ({
    method: 'GET',
    url: '/',
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
    remoteAddress,
  });

  it('believes X-Forwarded-For only from a trusted peer, taking the first untrusted hop from the right', () => {
    expect(resolve(facts('10.1.2.3', '198.51.100.7, 10.9.9.9'))).toBe('198.51.100.7');
    expect(resolve(facts('::1', '203.0.113.5'))).toBe('203.0.113.5');
    expect(resolve(facts('::ffff:10.1.2.3', 'evil, 198.51.100.7'))).toBe('198.51.100.7');
    // An untrusted peer cannot choose its identity.
    expect(resolve(facts('198.51.100.20', '1.2.3.4'))).toBe('198.51.100.20');
    // All hops trusted: the leftmost is the best there is.
    expect(resolve(facts('10.0.0.1', '10.0.0.2'))).toBe('10.0.0.2');
    expect(resolve(facts('10.0.0.1'))).toBe('10.0.0.1');
  });
});
