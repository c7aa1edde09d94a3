import Module, { createRequire } from 'node:module';

/**
 * Bolt requires `@slack/socket-mode` (and through it the `undici` package, about 20 MB resident)
 * at load time, whether or not Socket Mode is used. This puts a stand-in for it in the CommonJS
 * module cache that loads the real module on first use, so the HTTP mode never pays for it and
 * Socket Mode (SLACK_APP_TOKEN) works as before. Imported before anything that loads Bolt.
 */
const fromBolt = createRequire(createRequire(import.meta.url).resolve('@slack/bolt'));
const path = fromBolt.resolve('@slack/socket-mode');
const cache = fromBolt.cache;
if (!cache[path]) {
  let real: Record<string | symbol, unknown> | undefined;
  const load = (): Record<string | symbol, unknown> => {
    if (!real) {
      delete cache[path];
      real = fromBolt('@slack/socket-mode') as Record<string | symbol, unknown>;
    }
    return real;
  };
  const standIn = new Module(path);
  standIn.filename = path;
  standIn.loaded = true;
  standIn.exports = new Proxy(
    {},
    {
      get: (_, key) => load()[key],
      has: (_, key) => key in load(),
    },
  );
  cache[path] = standIn;
}
