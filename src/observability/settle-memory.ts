import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (opts?: {
  type?: 'major' | 'minor';
  execution?: 'sync' | 'async';
  flavor?: 'regular' | 'last-resort';
}) => void;

/**
 * Start-up (loading modules, parsing config, first connections) leaves tens of MB of garbage and a
 * grown young generation, which V8 keeps resident while the process then sits idle, as a chat-ops
 * bot mostly does. Once start-up is over, one memory-reducing full collection (V8's "last resort"
 * flavour: compacts, shrinks the young generation and returns free pages) gives them back.
 * One pause of some tens of ms, once; nothing is collected on a timer afterwards.
 */
export function releaseStartupMemory(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as Gc;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
