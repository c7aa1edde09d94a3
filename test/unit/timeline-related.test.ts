import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/record.js';
import { relatedRecords } from '../../src/incidents/timeline.js';

const record = (seq: number, fields: Partial<AuditRecord>): string =>
  JSON.stringify({
    seq,
    id: `r${seq}`,
    ts: new Date(seq * 1000).toISOString(),
    prevHash: 'x',
    hash: 'y',
    ...fields,
  });

describe('a timeline reads only the records of its request and the requests filed under it', () => {
  it('keeps them in chain order, follows children, and parses nothing else', () => {
    const texts = [
      record(1, { type: 'request.created', requestId: 'rb-aaaaaaaa' }),
      // Another request's record is not even parsed: this text is not JSON.
      'not JSON: the record of another request',
      record(3, { type: 'request.approved', requestId: 'rb-aaaaaaaa', approver: 'U0SRE1' }),
      record(4, { type: 'request.created', requestId: 'rt-cccccccc', details: { parentId: 'rb-aaaaaaaa' } }),
      // Mentions the request without being filed under it: not a child.
      record(5, {
        type: 'request.created',
        requestId: 'rb-dddddddd',
        details: { parentId: 'rb-xxxxxxxx', note: 'rb-aaaaaaaa' },
      }),
      record(6, { type: 'step.finished', requestId: 'rt-cccccccc', details: { step: 'apply' } }),
      record(7, { type: 'step.finished', requestId: 'rb-dddddddd', details: { step: 'apply' } }),
      record(8, { type: 'job.succeeded', requestId: 'rb-aaaaaaaa' }),
      // A request id that merely starts like this one's.
      record(9, { type: 'job.succeeded', requestId: 'rb-aaaaaaaa2' }),
    ];
    const related = relatedRecords(texts, ['rb-aaaaaaaa']);
    expect(related.map((r) => r.seq)).toEqual([1, 3, 4, 5, 6, 8]);
    expect(related.filter((r) => r.requestId === 'rb-dddddddd')).toHaveLength(1);
  });
});
