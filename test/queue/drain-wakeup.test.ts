import { describe, expect, it } from 'vitest';
import { QueueNotifier } from '../../src/slack/notifier.js';
import { OutboxBell } from '../../src/slack/outbox-bell.js';
import { expectSlackPace, postsIn, SLACK_PACE, testDrainer } from '../kit/drainer.js';
import { outboxTestbed } from '../kit/outbox-testbed.js';
import { waitFor } from '../kit/wait.js';

describe('a drainer holding a channel: what wakes it, and what it is left to take', () => {
  const bed = outboxTestbed();

  const drainJobs = async () => (await bed.queue.getJobs(['waiting', 'delayed', 'active'])).length;
  const texts = (channel: string) => bed.slack.messages(channel).map((m) => m.text);

  it('entries queued while a drainer holds the channel queue no drain job, and the holder delivers every one in order', async () => {
    const { redis, slack, queue, prefix } = bed;
    const channel = 'C0HELD';
    const bell = new OutboxBell();
    const notifier = new QueueNotifier(redis, queue, prefix, bell);
    await notifier.post('h.card', channel, { text: 'card' });
    await notifier.reply('h.card', 'h.r1', { text: 'reply 1' });
    // Nothing held the channel yet: each entry queued its drain.
    expect(await drainJobs()).toBe(2);

    const drain = testDrainer({ redis, prefix, slackApiUrl: slack.apiUrl }, { pace: SLACK_PACE, bell });
    const draining = drain(channel, 'drain-held');
    await waitFor(() => texts(channel).includes('card'), { what: 'the card' });
    expect(await redis.exists(`${prefix}:notify:lock:${channel}`)).toBe(1);
    await notifier.reply('h.card', 'h.r2', { text: 'reply 2' });
    await notifier.update('h.r1', { text: 'reply 1, edited' });
    await notifier.reply('h.card', 'h.r3', { text: 'reply 3' });
    expect(await drainJobs()).toBe(2);

    expect(await draining).toBeUndefined();
    const card = slack.messages(channel).find((m) => m.text === 'card')!;
    expect(slack.thread(channel, card.ts).map((m) => m.text)).toEqual([
      'card',
      'reply 1, edited',
      'reply 2',
      'reply 3',
    ]);
    expect(await redis.exists(`${prefix}:notify:lanes:${channel}`)).toBe(0);

    // Let go: the next entry queues a drain of its own again.
    await notifier.reply('h.card', 'h.r4', { text: 'reply 4' });
    expect(await drainJobs()).toBe(3);
    await queue.obliterate({ force: true });
  });

  it('a card queued while the drainer waits out a reply’s pace goes ahead of it, from this process (the bell) or another replica (no bell)', async () => {
    const { redis, slack, queue, prefix } = bed;
    // The two channels side by side: each waits out Slack's pace on its own.
    const cases = [
      ['C0BELL', true],
      ['C0REPLICA', false],
    ] as const;
    await Promise.all(
      cases.map(async ([channel, local]) => {
        const bell = new OutboxBell();
        const here = new QueueNotifier(redis, queue, prefix, bell);
        const notifier = local ? here : new QueueNotifier(redis, queue, prefix);
        await here.post(`${channel}.first`, channel, { text: 'first card' });
        for (let i = 1; i <= 4; i++)
          await here.reply(`${channel}.first`, `${channel}.r${i}`, { text: `reply ${i}` });
        const drain = testDrainer({ redis, prefix, slackApiUrl: slack.apiUrl }, { pace: SLACK_PACE, bell });
        const draining = drain(channel, `drain-${channel}`);
        await waitFor(() => texts(channel).includes('reply 1'), { what: `the first reply in ${channel}` });
        await notifier.post(`${channel}.second`, channel, { text: 'second card' });
        expect(await draining).toBeUndefined();
        // Replies keep to one a second; the card took a burst slot as soon as it was seen.
        expect(texts(channel)).toEqual([
          'first card',
          'reply 1',
          'second card',
          'reply 2',
          'reply 3',
          'reply 4',
        ]);
        const posts = postsIn(slack, channel);
        expect(posts).toHaveLength(6);
        expectSlackPace(posts);
      }),
    );
    await queue.obliterate({ force: true });
  });
});

describe('the outbox bell', () => {
  it('wakes the waits on its channel only, and a wait ends by itself when nothing rings', async () => {
    const bell = new OutboxBell();
    const woken: string[] = [];
    const a = bell.wait('C0A', 60_000).then(() => woken.push('a'));
    const b = bell.wait('C0B', 60_000).then(() => woken.push('b'));
    bell.ring('C0A');
    await a;
    expect(woken).toEqual(['a']);
    bell.ring('C0B');
    await b;
    expect(woken).toEqual(['a', 'b']);
    bell.ring('C0A'); // nobody waiting: nothing happens
    await bell.wait('C0A', 5);
  });
});
