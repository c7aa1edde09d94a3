import { describe, it } from 'vitest';
import { crashDrill } from './retract-crash-kit.js';

describe('a worker killed with SIGKILL while a retraction deletes assets and waits for its rollbacks', () => {
  it('killed after the first asset delete and while the child rollbacks run: each once', async () => {
    await crashDrill(['assets', 'rollback']);
  }, 300_000);
});
