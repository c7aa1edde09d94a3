import { describe, it } from 'vitest';
import { crashDrill } from './retract-crash-kit.js';

describe('a worker killed with SIGKILL in the GitHub steps of a retraction: the work completes exactly once', () => {
  it('killed while snapshotting, after the banner write and after the latest write: one of each write', async () => {
    await crashDrill(['snapshot', 'banner', 'latest']);
  }, 300_000);
});
