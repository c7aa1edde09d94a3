import { describe, expect, it } from 'vitest';
import { SlackPeople } from '../../src/slack/directory.js';

type Info = (args: { user: string }) => Promise<unknown>;
const people = (info: Info, deadlineMs?: number) =>
  new SlackPeople({ users: { info } } as unknown as ConstructorParameters<typeof SlackPeople>[0], deadlineMs);

describe('Slack names for text read outside Slack', () => {
  it('the display name, else the real name', async () => {
    const named = people(() =>
      Promise.resolve({ ok: true, user: { real_name: 'Ada Lovelace', profile: { display_name: 'ada' } } }),
    );
    expect(await named.displayName('U1')).toBe('ada');
    const unset = people(() =>
      Promise.resolve({
        ok: true,
        user: { real_name: 'Ada Lovelace', profile: { display_name: ' ', real_name: 'Ada Lovelace' } },
      }),
    );
    expect(await unset.displayName('U1')).toBe('Ada Lovelace');
  });

  it('nothing when Slack refuses, knows no name, or does not answer within the deadline', async () => {
    expect(await people(() => Promise.reject(new Error('user_not_found'))).displayName('U1')).toBeUndefined();
    expect(await people(() => Promise.resolve({ ok: true, user: {} })).displayName('U1')).toBeUndefined();
    const started = Date.now();
    const slow = people(
      // A Slack that never answers: only the deadline can end the lookup.
      () => new Promise(() => undefined),
      50,
    );
    expect(await slow.displayName('U1')).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
