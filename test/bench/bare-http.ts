/**
 * The floor for the acknowledgement benchmark: a plain `node:http` server that reads the body,
 * verifies Slack's v0 signature and timestamp exactly as Slack signs them, and answers 200 with
 * no body. No framework, no parsing beyond that. Forked by the bench like bare-bolt.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.env.BENCH_PORT);
const secret = process.env.BENCH_SIGNING_SECRET ?? '';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const ts = String(req.headers['x-slack-request-timestamp'] ?? '');
    const sig = Buffer.from(String(req.headers['x-slack-signature'] ?? ''));
    const fresh = Math.abs(Math.floor(Date.now() / 1000) - Number(ts)) <= 300;
    const expected = Buffer.from(
      `v0=${createHmac('sha256', secret).update(`v0:${ts}:`).update(Buffer.concat(chunks)).digest('hex')}`,
    );
    const ok = fresh && sig.length === expected.length && timingSafeEqual(sig, expected);
    res.writeHead(ok ? 200 : 401);
    res.end();
  });
});
server.listen(port, '127.0.0.1', () => process.send?.({ type: 'ready', port }));
process.on('disconnect', () => process.exit(0));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
