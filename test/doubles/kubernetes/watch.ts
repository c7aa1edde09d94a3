// Watch streams (`?watch=true`): newline-delimited `{"type","object"}` events, as client-node's Watch
// and informers read them. Without a resourceVersion (or with "0") the stream starts with synthetic
// ADDED events for the current objects; with one it replays later events from the store's history, or
// sends an ERROR event with a 410 Expired Status when that version is too old. Label selectors are
// applied to each event's object as it is (no synthetic DELETED when an object stops matching).
import type { ServerResponse } from 'node:http';

import type { KObject, Kind } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError } from './status.js';
import type { ObjectStore, StoreEvent } from './store.js';

export interface WatchOptions {
  kind: Kind;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
}

export function serveWatch(
  res: ServerResponse,
  store: ObjectStore,
  opts: WatchOptions,
  onClose: (close: () => void) => () => void,
): void {
  const labels = parseLabelSelector(opts.labelSelector);
  const fields = parseFieldSelector(opts.fieldSelector);
  const matches = (obj: KObject) =>
    (opts.namespace === undefined || obj.metadata.namespace === opts.namespace) &&
    labels(obj.metadata.labels) &&
    fields(obj.metadata);

  let replay: StoreEvent[] | undefined;
  const rv = opts.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== '0') {
    replay = store.eventsAfter(Number(rv));
    if (!replay) {
      const expired = new ApiError(
        410,
        `too old resource version: ${rv} (${store.resourceVersion})`,
        'Expired',
      );
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: expired.status })}\n`);
      return;
    }
  }

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  const send = (type: string, object: KObject) => res.write(`${JSON.stringify({ type, object })}\n`);
  if (replay) {
    for (const e of replay) if (e.kind === opts.kind && matches(e.object)) send(e.type, e.object);
  } else {
    for (const obj of store.list(opts.kind, opts.namespace)) if (matches(obj)) send('ADDED', obj);
  }

  const unsubscribe = store.subscribe((e) => {
    if (e.kind === opts.kind && matches(e.object)) send(e.type, e.object);
  });
  let timer: NodeJS.Timeout | undefined;
  const close = () => {
    unsubscribe();
    clearTimeout(timer);
    forget();
    if (!res.writableEnded) res.end();
  };
  const forget = onClose(close);
  if (opts.timeoutSeconds !== undefined && opts.timeoutSeconds > 0)
    timer = setTimeout(close, opts.timeoutSeconds * 1000);
  res.on('close', close);
}
