import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const PREFIX: Record<string, string> = {
  rollback: 'rb',
  retract: 'rt',
  'retract-undo': 'ru',
  canary: 'cn',
  'canary-abort': 'ca',
  'api-retire': 'ar',
  'api-unretire': 'au',
  flag: 'fl',
  'rollback-group': 'rg',
  'flagger-gate': 'fg',
  'rollout-gate': 'ag',
};

/**
 * Request ids double as BullMQ job ids: never all digits, never a ":" (BullMQ rejects
 * both), short enough to read aloud on an incident call ("rb-7kq2m9x4").
 */
export function newRequestId(kind: string): string {
  const bytes = randomBytes(8);
  let suffix = '';
  for (const b of bytes) suffix += ALPHABET[b % ALPHABET.length];
  return `${PREFIX[kind] ?? 'rq'}-${suffix}`;
}

export const REQUEST_ID_PATTERN = /^[a-z]{2}-[a-z0-9]{8}$/;
