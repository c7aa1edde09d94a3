import { expect } from 'vitest';
import { GENESIS_ANCHOR, verifyChain } from '../../src/audit/verify.js';
import type { AuditRecord } from '../../src/audit/record.js';
import {
  auditTypes,
  cardIn,
  click,
  deploymentPatches,
  noDuplicateReplies,
  run,
  waitCard,
} from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { PEOPLE, type RunningApp, type World } from '../kit/world.js';

/** Rollbacks on Sentinel and Cluster: the same signed path as rollback-happy, with a failover in the middle. */

export async function readyStatus(bot: RunningApp): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${bot.app.port}/healthz/ready`);
  return res.status;
}

/**
 * Files `/rollback checkout-api`, approves it as an SRE, runs `afterApproval` (a failover), and
 * waits for the card to say done. Checks exactly one template write, one outcome note and no
 * doubled reply in the thread.
 */
export async function approvedRollback(
  world: World,
  bot: RunningApp,
  nth: number,
  afterApproval?: () => Promise<void>,
): Promise<void> {
  const patchesBefore = deploymentPatches(world.prod).length;
  const { ack } = await run(world, bot, '/rollback', `checkout-api --reason "ha drill ${nth}"`);
  expect(ack.status).toBe(200);
  const card = await cardIn(world, PEOPLE.checkout, nth, 30_000);
  await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
  if (afterApproval) await afterApproval();
  await waitCard(world, card, /Done — healthy/, 60_000);
  await waitFor(
    () => world.slack.thread(card.channel, card.ts).some((m) => /back on revision/.test(m.text)),
    { what: 'outcome note', timeoutMs: 20_000 },
  );
  expect(deploymentPatches(world.prod).length - patchesBefore).toBe(1);
  const outcomes = world.slack.thread(card.channel, card.ts).filter((m) => /back on revision/.test(m.text));
  expect(outcomes).toHaveLength(1);
  expect(noDuplicateReplies(world, card)).toBe(true);
}

/** The Redis audit stream verifies as one chain from its first record, and holds `succeeded` finished jobs. */
export async function expectAuditChain(world: World, succeeded: number): Promise<void> {
  const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  const records = entries.map(([, f]) => JSON.parse(f[1]!) as AuditRecord);
  expect(verifyChain(records, GENESIS_ANCHOR)).toMatchObject({ ok: true });
  expect((await auditTypes(world)).filter((t) => t === 'job.succeeded')).toHaveLength(succeeded);
  expect((await auditTypes(world)).filter((t) => t === 'request.approved')).toHaveLength(succeeded);
}
