import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/doctor/check.js';
import { runCliCommand } from '../../src/cli/run.js';
import { captureIo, runCli } from '../cli/kit.js';
import { SlackDouble } from '../doubles/slack.js';
import { freePort } from '../kit/process.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { RedisSettingsDouble } from './redis-double.js';

describe('backout doctor', () => {
  let world: World;
  let healthyRedis: RedisSettingsDouble;
  let evictingRedis: RedisSettingsDouble;

  beforeAll(async () => {
    world = await createWorld();
    world.slack.setChannel(PEOPLE.checkout, { name: 'checkout-incidents' });
    world.github.addRepo('acme/checkout');
    healthyRedis = await RedisSettingsDouble.start({
      config: { 'maxmemory-policy': 'noeviction', appendonly: 'yes', save: '3600 1' },
    });
    evictingRedis = await RedisSettingsDouble.start({
      config: { 'maxmemory-policy': 'allkeys-lru', appendonly: 'no', save: '' },
    });
  });
  afterAll(async () => {
    await Promise.allSettled([healthyRedis.stop(), evictingRedis.stop()]);
    await world.close();
  });

  it('passes every check against healthy doubles, one line each, from the real CLI entry, exit 0', async () => {
    const { code, stdout } = await runCli(['doctor'], { ...world.rawEnv, REDIS_URL: healthyRedis.url });
    const lines = stdout.trimEnd().split('\n');
    expect(lines.slice(0, -1).every((l) => l.startsWith('✓ '))).toBe(true);
    expect(stdout).toMatch(/✓ slack +token: valid: bot @backout \(U0000BOT\)/);
    expect(stdout).toMatch(/✓ slack +scopes: all 9 scopes of manifest.yml granted/);
    expect(stdout).toMatch(
      /✓ slack +channel C0CHECKOUT: the bot is a member of #checkout-incidents \(checkout-api\/production\)/,
    );
    expect(stdout).toMatch(/✓ kubernetes +context prod: reachable/);
    expect(stdout).toMatch(/✓ kubernetes +prod\/shop deployments.apps: get, patch allowed/);
    expect(stdout).toMatch(/✓ kubernetes +staging\/shop replicasets.apps: list allowed/);
    expect(stdout).toMatch(/✓ kubernetes +prod\/pay deployments.apps/);
    expect(stdout).toMatch(/✓ github +repo acme\/checkout: visible to the token, with write access/);
    expect(stdout).toMatch(/✓ redis +maxmemory-policy: noeviction/);
    expect(stdout).toMatch(/✓ slack +dead letters: no message was refused by Slack for good/);
    expect(stdout).toMatch(/✓ redis +persistence: append-only file on/);
    expect(lines[lines.length - 1]).toMatch(/^\d+ checks: \d+ passed, 0 failed, 0 warnings\.$/);
    expect(code).toBe(0);
  });

  describe('with faults seeded in the doubles', () => {
    beforeAll(() => {
      world.slack.setScopes([
        'commands',
        'chat:write',
        'usergroups:read',
        'channels:read',
        'groups:read',
        'users:read',
      ]);
      world.slack.setBotChannels([PEOPLE.incident]);
      world.prod.deny({ verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'shop' });
      world.github.hideRepo('acme/checkout');
    });

    it('reports each fault with its fix and exits 1', async () => {
      const cap = captureIo({ ...world.rawEnv, REDIS_URL: evictingRedis.url });
      expect(await runCliCommand(['doctor'], cap.io)).toBe(1);
      const out = cap.stdout();
      const line = (start: RegExp) =>
        out.split('\n').find((l) => start.test(l)) ?? `(no line matching ${start})`;

      expect(line(/^✗ slack +scopes:/)).toMatch(
        /missing chat:write\.public, channels:history, groups:history \(needed for: .*channels:history — exactly-once delivery in public channels: after a timeout or crash, looking a post up by its key instead of posting it twice.* — fix: add chat:write\.public, channels:history, groups:history under "OAuth & Permissions" → Bot Token Scopes .*reinstall the app/,
      );
      expect(line(/^✗ slack +channel C0CHECKOUT:/)).toMatch(
        /the bot is not a member of #checkout-incidents \(checkout-api\/production\).* — fix: in #checkout-incidents, type \/invite @backout/,
      );
      expect(line(/^✓ slack +channel C0INCIDENT:/)).toContain('slack.incidentChannel');
      expect(line(/^✗ kubernetes +prod\/shop deployments\.apps:/)).toMatch(
        /patch denied \(backout needs get, patch\) — fix: grant .*Role in namespace shop .*apiGroups: \["apps"\], resources: \["deployments"\].*kubectl auth can-i patch deployments\.apps -n shop --context prod/,
      );
      expect(line(/^. kubernetes +staging\/shop deployments\.apps:/)).toMatch(/^✓/);
      expect(line(/^✗ github +repo acme\/checkout:/)).toMatch(
        /the token cannot see acme\/checkout \(checkout-api\): GitHub answers 404 — fix: give the token access to acme\/checkout/,
      );
      expect(line(/^✗ redis +maxmemory-policy:/)).toMatch(
        /allkeys-lru: .*evict .* — fix: set maxmemory-policy noeviction/,
      );
      expect(line(/^! redis +persistence:/)).toMatch(
        /off .* — fix: turn on the append-only file: appendonly yes/,
      );
      expect(out).toMatch(/checks: \d+ passed, 5 failed, 1 warning\.\n$/);
    });

    it('--json gives the same checks for machines', async () => {
      const cap = captureIo({ ...world.rawEnv, REDIS_URL: evictingRedis.url });
      expect(await runCliCommand(['doctor', '--json'], cap.io)).toBe(1);
      const report = JSON.parse(cap.stdout()) as { ok: boolean; checks: CheckResult[] };
      expect(report.ok).toBe(false);
      const failed = report.checks.filter((c) => c.status === 'fail');
      expect(failed.map((c) => `${c.area} ${c.name}`).sort()).toEqual([
        'github repo acme/checkout',
        'kubernetes prod/shop deployments.apps',
        'redis maxmemory-policy',
        'slack channel C0CHECKOUT',
        'slack scopes',
      ]);
      for (const c of failed) expect(c.fix).toBeTruthy();
    });
  });

  it('agrees with manifest.yml: with chat:write.public a public channel the bot has not joined passes, a private one fails', async () => {
    const slack = await SlackDouble.start();
    try {
      slack.setChannel(PEOPLE.checkout, { name: 'checkout-incidents' });
      slack.setChannel(PEOPLE.incident, { name: 'incidents', isPrivate: true });
      slack.setBotChannels([]);
      const cap = captureIo({ ...world.rawEnv, REDIS_URL: healthyRedis.url, SLACK_API_URL: slack.apiUrl });
      await runCliCommand(['doctor'], cap.io);
      const out = cap.stdout();
      expect(out).toMatch(/✓ slack +scopes: all \d+ scopes of manifest.yml granted/);
      expect(out).toMatch(
        /✓ slack +channel C0CHECKOUT: #checkout-incidents \(checkout-api\/production\) is public and the token has chat:write.public/,
      );
      expect(out).toMatch(
        /✗ slack +channel C0INCIDENT: the bot is not a member of #incidents .* — fix: in #incidents, type \/invite @backout/,
      );
    } finally {
      await slack.stop();
    }
  });

  it('names the URL, the cause code and the fix when a service does not answer', async () => {
    // A port nothing listens on (not port 1: fetch refuses "bad ports" before connecting).
    const dead = `http://127.0.0.1:${await freePort()}`;
    const cap = captureIo({
      ...world.rawEnv,
      REDIS_URL: healthyRedis.url,
      SLACK_API_URL: `${dead}/api/`,
      GITHUB_API_URL: dead,
    });
    expect(await runCliCommand(['doctor'], cap.io)).toBe(1);
    const out = cap.stdout();
    expect(out).toMatch(
      /✗ slack +token: cannot reach http:\/\/127\.0\.0\.1:\d+\/api\/: connection refused \(ECONNREFUSED\) — fix: nothing listens there: check the host and port/,
    );
    expect(out).toMatch(
      /✗ github +repo acme\/checkout: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\) — fix: nothing listens there.*check GITHUB_API_URL/,
    );
  });

  it('says so when CONFIG is disabled, when Redis is away, and when the Slack token is refused', async () => {
    const managed = await RedisSettingsDouble.start({ configDisabled: true, aofEnabled: true });
    try {
      let cap = captureIo({ ...world.rawEnv, REDIS_URL: managed.url });
      await runCliCommand(['doctor'], cap.io);
      expect(cap.stdout()).toMatch(
        /✓ redis +maxmemory-policy: noeviction \(read from INFO: CONFIG is disabled\)/,
      );
      expect(cap.stdout()).toMatch(
        /✓ redis +persistence: append-only file on \(read from INFO: CONFIG is disabled\)/,
      );

      const restricted = await SlackDouble.start({ token: 'xoxb-only-this-one' });
      try {
        cap = captureIo({
          ...world.rawEnv,
          REDIS_URL: 'redis://127.0.0.1:1',
          SLACK_API_URL: restricted.apiUrl,
        });
        expect(await runCliCommand(['doctor'], cap.io)).toBe(1);
        expect(cap.stdout()).toMatch(
          /✗ slack +token: Slack refused SLACK_BOT_TOKEN \(invalid_auth\) — fix: copy the Bot User OAuth Token/,
        );
        expect(cap.stdout()).toMatch(
          /✗ redis +connection: cannot reach Redis at redis:\/\/127\.0\.0\.1:1.* — fix: check REDIS_URL/,
        );
      } finally {
        await restricted.stop();
      }
    } finally {
      await managed.stop();
    }
  });
});
