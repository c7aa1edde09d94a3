import Module, { createRequire } from 'node:module';
import type * as Bolt from '@slack/bolt';

/**
 * Bolt, loaded without what backout never uses until it does. Bolt requires at load time, whatever
 * the mode: `@slack/socket-mode` (and through it `undici`, about 20 MB resident), `@slack/oauth`
 * (multi-workspace installs) and its `ExpressReceiver` (Express, about 5 MB). Stand-ins in the
 * CommonJS module cache load each real module on first use, so HTTP mode never pays for them and
 * Socket Mode (SLACK_APP_TOKEN) works as before.
 *
 * Bolt is required as CommonJS, taking only the names used: an ESM `import` of it would read every
 * export it has, and some of those getters load `@slack/oauth`.
 */
const fromHere = createRequire(import.meta.url);
const boltMain = fromHere.resolve('@slack/bolt');
const fromBolt = createRequire(boltMain);
const cache = fromBolt.cache;

/** Loads the real module at `path` once, first taking its stand-in out of the cache. */
function loader<T>(path: string): () => T {
  let real: T | undefined;
  return () => {
    if (real === undefined) {
      delete cache[path];
      real = fromBolt(path) as T;
    }
    return real;
  };
}

/** A module whose exports load the real module on first property access. */
function lazyModule(path: string): void {
  if (cache[path]) return;
  const load = loader<Record<string | symbol, unknown>>(path);
  standIn(path, new Proxy({}, { get: (_, key) => load()[key], has: (_, key) => key in load() }));
}

/**
 * A compiled TypeScript module with one default-exported class, read (not constructed) at load
 * time: the class is a stand-in that loads the real module when it is constructed or inspected.
 */
function lazyDefaultClass(path: string): void {
  if (cache[path]) return;
  const module = loader<{ default: abstract new (...args: unknown[]) => object }>(path);
  const load = () => module().default;
  const cls = new Proxy(function Deferred() {}, {
    construct: (_, args, newTarget) => Reflect.construct(load(), args, newTarget) as object,
    get: (_, key) => Reflect.get(load(), key) as unknown,
    has: (_, key) => key in load(),
  });
  standIn(path, { __esModule: true, default: cls });
}

function standIn(path: string, exports: object): void {
  const module = new Module(path);
  module.filename = path;
  module.loaded = true;
  module.exports = exports;
  cache[path] = module;
}

lazyModule(fromBolt.resolve('@slack/socket-mode'));
lazyModule(fromBolt.resolve('@slack/oauth'));
lazyDefaultClass(fromBolt.resolve('./receivers/ExpressReceiver'));

const bolt = fromHere('@slack/bolt') as typeof Bolt;

export const { App, LogLevel, HTTPModuleFunctions, HTTPResponseAck } = bolt;
export type App = Bolt.App;
export type LogLevel = Bolt.LogLevel;
export type HTTPResponseAck = Bolt.HTTPResponseAck;
