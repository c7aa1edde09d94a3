import { request } from 'node:http';
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
});
