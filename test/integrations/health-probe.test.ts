import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthSchema } from '../../src/config/schema.js';
import { HttpHealthChecker } from '../../src/integrations/health.js';
import { BlackHole } from '../kit/black-hole.js';

// Probes are one GET each, bounded by their deadline; the status is the verdict.
describe('HTTP health probes', () => {
  let server: Server;
  let base: string;
  let hole: BlackHole;
  const checker = new HttpHealthChecker({});

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') res.end('fine');
      else if (req.url === '/down') res.writeHead(503).end('no');
      else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
      // Headers at once, then a body that never ends: the status is enough.
      else if (req.url === '/streaming') res.writeHead(200).write('still going');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hole = await BlackHole.start();
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await hole.stop();
  });

  const probe = async (url: string, expectStatus = 200, timeout = 2_000) =>
    (
      await checker.check(healthSchema.parse({ probes: [{ url, expectStatus, timeout: `${timeout}ms` }] }))
    )[0]!;

  it('the expected status passes, another fails, and each says what was answered', async () => {
    const ok = await probe(`${base}/ok`);
    expect(ok).toMatchObject({ ok: true, value: 200, units: { total: 1, passed: 1 } });
    expect(ok.detail).toMatch(new RegExp(`^${base}/ok answered 200 in \\d+ ms \\(expected 200\\)$`));
    const down = await probe(`${base}/down`);
    expect(down).toMatchObject({ ok: false, value: 503, units: { total: 1, passed: 0 } });
    expect(down.detail).toContain('answered 503');
  });

  it('a redirect is the answer, not followed', async () => {
    expect(await probe(`${base}/moved`)).toMatchObject({ ok: false, value: 302 });
    expect(await probe(`${base}/moved`, 302)).toMatchObject({ ok: true, value: 302 });
  });

  it('headers are enough: a body that never ends does not hold the probe', async () => {
    expect(await probe(`${base}/streaming`)).toMatchObject({ ok: true, value: 200 });
  });

  it('a server that never answers fails at the deadline; a refused connection fails at once', async () => {
    const hung = await probe(`http://127.0.0.1:${hole.port}/healthz`, 200, 300);
    expect(hung).toMatchObject({ ok: false, units: { total: 1, passed: 0 } });
    expect(hung.detail).toBe(`http://127.0.0.1:${hole.port}/healthz did not answer: no answer within 300 ms`);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await probe(`http://127.0.0.1:${port}/healthz`);
    expect(refused.ok).toBe(false);
    expect(refused.detail).toContain('ECONNREFUSED');
  });
});
