import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `code` in a fresh Node process (ESM, through tsx) and returns what it printed as JSON. */
async function inFreshNode(code: string): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', code],
    { cwd: ROOT, timeout: 30_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const LOADED = `
const { createRequire } = await import('node:module');
// A stand-in is one cache entry at the package's main file; the real package brings several.
const loaded = (name) => Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes('/node_modules/' + name + '/')).length > 1;
const report = (extra = {}) => console.log(JSON.stringify({
  express: loaded('express'), oauth: loaded('@slack/oauth'), socketMode: loaded('@slack/socket-mode'), undici: loaded('undici'), ...extra,
}));
`;

describe('Bolt as backout loads it', () => {
  it('leaves Express, OAuth and the Socket Mode client unloaded in HTTP mode', async () => {
    const out = await inFreshNode(`${LOADED}
const { App, HTTPResponseAck } = await import('./src/slack/bolt-runtime.ts');
report({ app: typeof App, ack: typeof HTTPResponseAck });`);
    expect(out).toEqual({
      express: false,
      oauth: false,
      socketMode: false,
      undici: false,
      app: 'function',
      ack: 'function',
    });
  });

  it('loads each real module on first use: the Socket Mode client, OAuth, and the Express receiver', async () => {
    const out = await inFreshNode(`${LOADED}
await import('./src/slack/bolt-runtime.ts');
const bolt = createRequire(import.meta.url)('@slack/bolt');
const socket = new bolt.SocketModeReceiver({ appToken: 'xapp-1-A0-1-x' });
const store = new bolt.MemoryInstallationStore();
const express = new bolt.ExpressReceiver({ signingSecret: 's' });
report({
  socket: socket.client.constructor.name,
  store: typeof store.storeInstallation,
  express: express instanceof bolt.ExpressReceiver && typeof express.app,
  expressLoaded: loaded('express'),
});`);
    expect(out).toMatchObject({
      socketMode: true,
      oauth: true,
      socket: 'SocketModeClient',
      store: 'function',
      express: 'function',
      expressLoaded: true,
    });
  });
});
