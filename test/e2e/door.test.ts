import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/http/body-limit.js';
import { createWorld, type RunningApp, type World } from '../kit/world.js';

const MB = 1024 * 1024;

/**
 * Streams up to `totalBytes` of body in 1 MB chunks, stopping as soon as the server answers
 * (or drops the connection). Returns the status and how much was actually sent.
 */
function bigPost(
  url: string,
  totalBytes: number,
  opts: { declareLength: boolean },
): Promise<{ status: number | undefined; sent: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let status: number | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ status, sent });
    };
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(opts.declareLength ? { 'content-length': String(totalBytes) } : {}),
      },
    });
    req.on('response', (res) => {
      status = res.statusCode;
      res.resume();
      res.on('end', finish);
      req.destroy();
      finish();
    });
    req.on('error', finish);
    req.on('close', finish);
    const chunk = Buffer.alloc(MB, 0x61);
    const pump = () => {
      while (!done && sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!done) req.end();
    };
    pump();
  });
}

/**
 * A client that sends its whole oversized chunked body before it reads anything, as a busy or
 * simple client does. Returns what it read, or the socket error that ended it.
 */
function sendAllThenRead(url: string, totalBytes: number): Promise<string> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let got = '';
    socket.pause();
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => resolve(got));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`${got}[${err.code ?? err.message}]`));
    socket.write(`POST ${pathname} HTTP/1.1\r\nhost: ${hostname}\r\ntransfer-encoding: chunked\r\n\r\n`);
    const chunk = Buffer.alloc(MB, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes) {
        sent += chunk.length;
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        if (!socket.write('\r\n')) {
          socket.once('drain', pump);
          return;
        }
      }
      // Everything handed to the kernel: only now look at the answer.
      socket.end('0\r\n\r\n', () => socket.resume());
    };
    pump();
  });
}

describe('the door: oversized bodies are refused early on every endpoint', () => {
  let world: World;
  let bot: RunningApp;
  let base: string;

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
    base = bot.url.replace('/slack/events', '');
  });
  afterAll(async () => {
    await world.close();
  });

  it('a 50 MB POST with its length declared gets 413 before the body is read, and memory does not grow with it', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (const path of ['/slack/events', '/healthz/live', '/metrics', '/hooks/alertmanager']) {
      const res = await bigPost(`${base}${path}`, 50 * MB, { declareLength: true });
      expect(res.status, path).toBe(413);
      // Refused on its declared length: far less than the 50 MB was ever written.
      expect(res.sent, path).toBeLessThan(50 * MB);
    }
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(30 * MB);
    // Nothing was filed, nothing reached Slack.
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toEqual([]);
    expect(world.slack.allCallsTo('chat.postMessage')).toHaveLength(0);
  });

  it('a 50 MB chunked POST (no declared length) to Slack’s endpoint stops at the shared limit with 413', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    const res = await bigPost(bot.url, 50 * MB, { declareLength: false });
    expect(res.status).toBe(413);
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(30 * MB);
    // The receiver still answers normal requests afterwards.
    const health = await fetch(`${base}/healthz/live`);
    expect(health.status).toBe(200);
    expect(MAX_BODY_BYTES).toBe(4 * MB);
  });

  it('a client that reads only after sending its whole oversized body still gets the 413, not a reset', async () => {
    // The refused connection lingers: what still arrives is discarded, so no reset overtakes the answer.
    for (let i = 0; i < 5; i++) {
      const answer = await sendAllThenRead(bot.url, 12 * MB);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain('request body larger than 4194304 bytes');
    }
  });
});
