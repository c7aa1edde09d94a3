import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from '../../src/redis/script.js';

describe('Lua scripts run by their SHA', () => {
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  const key = `test-script-${randomUUID()}`;
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('sends the text once, when the server does not have the script, and runs it exactly once each time', async () => {
    // A text of its own, so the server cannot have it yet: the first call meets NOSCRIPT.
    const script = `-- ${key}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const sha = createHash('sha1').update(script).digest('hex');
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await runScript(redis, script, 1, key, 2)).toBe(2);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect(await runScript(redis, script, 1, key, 3)).toBe(5);
  });

  it("passes the script's own errors on, after running it once", async () => {
    const script = `-- ${key} failing\nredis.call('INCR', KEYS[1])\nreturn redis.error_reply('refused here')`;
    const before = Number(await redis.get(key));
    await expect(runScript(redis, script, 1, key)).rejects.toThrow('refused here');
    expect(Number(await redis.get(key))).toBe(before + 1);
  });
});
