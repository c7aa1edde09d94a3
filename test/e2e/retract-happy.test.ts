import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import {
  approve,
  cardMatching,
  clickUndo,
  command,
  finished,
  release,
  REPO,
  seedReleases,
  V142_NOTES,
  writeLog,
} from './retract-kit.js';

describe('retracting a release travels the whole path, and undo puts it back exactly', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    seedReleases(world, {
      more: [{ tag: 'v1.5.0', draft: true, body: 'Work in progress' }],
    });
    // One with a display name, one without (Slack then has only the real name).
    world.slack.setUser(PEOPLE.requester, { name: 'ada', realName: 'Ada Lovelace', displayName: 'Ada' });
    world.slack.setUser(PEOPLE.sre1, { name: 'grace', realName: 'Grace Hopper' });
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('marks the release pre-release under a RETRACTED banner, moves latest, keeps the assets, and tells the story', async () => {
    const before = release(world, 'v1.4.2');
    const { ack, reply } = await command(
      world,
      bot.client,
      '/retract',
      'checkout-api@v1.4.2 --reason "corrupts carts on resume"',
    );
    expect(ack).toContain('Planning the retraction of checkout-api v1.4.2');
    expect(await reply()).toMatch(/Filed `rt-[a-z0-9]{8}`.*needs approval/s);
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    const plan = JSON.stringify(card.blocks);
    expect(plan).toContain('pre-release: no → *yes*');
    expect(plan).toContain('v1.4.2 → *v1.4.1*');
    expect(plan).toContain('2 kept (add --delete-assets to delete them)');
    expect(plan).toContain('Running v1.4.2');
    expect(world.github.writes()).toEqual([]);

    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts);
    expect(done.text).toContain('done (retracted)');

    const after = release(world, 'v1.4.2');
    expect(after.prerelease).toBe(true);
    expect(after.body?.startsWith(`<!-- backout:retracted request=`)).toBe(true);
    expect(after.body).toContain('**RETRACTED** on ');
    // Named as in Slack: Slack user ids mean nothing on GitHub.
    expect(after.body).toContain('by Ada, approved by Grace Hopper.');
    expect(after.body).toContain('Reason: corrupts carts on resume');
    expect(after.body).toContain(
      'Use [v1.4.1](https://github.com/acme/checkout/releases/tag/v1.4.1) instead.',
    );
    expect(after.body?.endsWith(V142_NOTES)).toBe(true);
    expect(world.github.latest(REPO)?.tag_name).toBe('v1.4.1');
    expect(after.assets.map((a) => a.digest)).toEqual(before.assets.map((a) => a.digest));
    const writes = writeLog(world).map(
      (w) =>
        `${w.method} ${w.status} ${Object.keys(w.body as object)
          .sort()
          .join(',')}`,
    );
    expect(writes).toEqual(['PATCH 200 body,prerelease', 'PATCH 200 make_latest']);

    const thread = world.slack.transcript(PEOPLE.checkout, card.ts);
    expect(thread).toContain('Snapshot the release into the audit log');
    expect(thread).toContain('v1.4.2 is now a pre-release, with the RETRACTED banner on top of its notes.');
    expect(thread).toContain('v1.4.1 is now the latest release.');
    expect(thread).toContain('Kept all 2 assets: --delete-assets was not given.');
    expect(thread).toContain('Assets untouched.');

    const audit = (await readFile(join(world.dir, 'audit', 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; releaseTag?: string; details?: Record<string, unknown> });
    const snapshot = audit.find((r) => r.type === 'release.snapshot');
    expect(snapshot).toMatchObject({
      releaseTag: 'v1.4.2',
      details: { body: V142_NOTES, prerelease: false, latest: 'v1.4.2' },
    });
    expect((snapshot?.details?.assets as { digest: string }[]).map((a) => a.digest)).toEqual(
      before.assets.map((a) => a.digest),
    );
    expect(audit.map((r) => r.type)).toEqual(
      expect.arrayContaining(['request.created', 'request.approved', 'job.started', 'job.succeeded']),
    );
    expect(world.github.schemaViolations).toEqual([]);
  });

  it('says an already retracted release is retracted, and writes nothing', async () => {
    const writes = world.github.writes().length;
    const { reply } = await command(world, bot.client, '/retract', 'checkout-api@v1.4.2');
    expect(await reply()).toMatch(
      /v1\.4\.2` of acme\/checkout is already retracted \(by request `rt-[a-z0-9]{8}`\)/,
    );
    expect(world.github.writes().length).toBe(writes);
  });

  it('lists recent tags for an unknown tag, and refuses a draft with the reason', async () => {
    const unknown = await command(world, bot.client, '/retract', 'checkout-api@v1.4.9');
    const text = await unknown.reply();
    expect(text).toContain('acme/checkout has no release `v1.4.9`. Did you mean `v1.4.2`?');
    expect(text).toContain('Recent releases: `v1.5.0` (draft), `v1.4.2` (pre-release), `v1.4.1`, `v1.4.0`.');
    const draft = await command(world, bot.client, '/retract', 'checkout-api@v1.5.0');
    expect(await draft.reply()).toContain('`v1.5.0` of acme/checkout is a draft: it was never published');
    const noRepo = await command(world, bot.client, '/retract', 'payments@v1.0.0');
    expect(noRepo.ack).toContain('payments has no GitHub repo in the config');
  });

  it('undo restores flags, notes and latest exactly as the snapshot had them', async () => {
    const retraction = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    const responseUrl = await clickUndo(world, bot.client, retraction.ts);
    const answer = await waitFor(() => world.slack.responses(responseUrl)[0], { what: 'undo answer' });
    expect(String(answer.body.text)).toMatch(/Filed `ru-[a-z0-9]{8}`/);
    const card = await cardMatching(world, /Restore checkout-api v1\.4\.2/);
    const plan = JSON.stringify(card.blocks);
    expect(plan).toContain('pre-release: yes → *no*');
    expect(plan).toContain('v1.4.1 → *v1.4.2*');
    const writes = world.github.writes().length;

    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts);
    expect(done.text).toContain('done (restored)');

    const after = release(world, 'v1.4.2');
    expect(after.prerelease).toBe(false);
    expect(after.body).toBe(V142_NOTES);
    expect(after.name).toBe('v1.4.2 — faster carts');
    expect(world.github.latest(REPO)?.tag_name).toBe('v1.4.2');
    expect(
      writeLog(world, writes).map(
        (w) =>
          `${w.method} ${w.status} ${Object.keys(w.body as object)
            .sort()
            .join(',')}`,
      ),
    ).toEqual(['PATCH 200 body,prerelease', 'PATCH 200 make_latest']);

    const again = await command(world, bot.client, '/retract', 'undo checkout-api@v1.4.2');
    expect(await again.reply()).toContain('is not retracted');
    expect(world.github.schemaViolations).toEqual([]);
  });
});
