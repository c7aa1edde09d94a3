import { describe, expect, it } from 'vitest';
import { BusyError } from '../../src/errors.js';
import { CommandLanes } from '../../src/queue/lanes.js';
import { Limiter } from '../../src/queue/limiter.js';

/** A task that runs until released. */
function gate() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { task: () => done, release };
}

describe('bounded lanes for command work', () => {
  it('runs at most `active` at once, queues up to `waiting`, and refuses the next with the busy answer', async () => {
    const limiter = new Limiter({ active: 1, waiting: 1, maxWaitMs: 10_000 }, 'being planned against X');
    const g = gate();
    const order: string[] = [];
    const first = limiter.run(async () => {
      await g.task();
      order.push('first');
    });
    const second = limiter.run(() => {
      order.push('second');
      return Promise.resolve();
    });
    const third = limiter.run(() => Promise.resolve('never'));
    await expect(third).rejects.toBeInstanceOf(BusyError);
    await expect(third).rejects.toThrow(/backout is busy, try again in a moment — nothing was changed/);
    g.release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
  });

  it('a task that waited its whole allowance is refused and never starts', async () => {
    const limiter = new Limiter({ active: 1, waiting: 5, maxWaitMs: 50 }, 'being answered');
    const g = gate();
    const running = limiter.run(g.task);
    let started = false;
    const waiting = limiter.run(() => {
      started = true;
      return Promise.resolve();
    });
    await expect(waiting).rejects.toThrow(/busy/);
    g.release();
    await running;
    expect(started).toBe(false);
    // The slot is free again afterwards.
    await expect(limiter.run(() => Promise.resolve(7))).resolves.toBe(7);
  });

  it('a full lane for one context leaves other contexts and the quick lane free', async () => {
    const lanes = new CommandLanes({
      quick: { active: 1, waiting: 1, maxWaitMs: 1_000 },
      plan: { active: 1, waiting: 0, maxWaitMs: 1_000 },
    });
    const dead = gate();
    const hung = lanes.run({ kind: 'plan', key: 'Kubernetes context dead' }, dead.task);
    await expect(
      lanes.run({ kind: 'plan', key: 'Kubernetes context dead' }, () => Promise.resolve()),
    ).rejects.toThrow(/1 requests are already being planned against Kubernetes context dead/);
    let other = false;
    await lanes.run({ kind: 'plan', key: 'Kubernetes context prod' }, () => Promise.resolve((other = true)));
    await expect(lanes.run({ kind: 'quick' }, () => Promise.resolve('abort'))).resolves.toBe('abort');
    expect(other).toBe(true);
    dead.release();
    await hung;
  });
});
