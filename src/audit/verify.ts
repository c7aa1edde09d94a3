import { hashRecord, type AuditRecord } from './record.js';

export type VerifyResult =
  | { ok: true; records: number; firstSeq?: number; lastSeq?: number; lastHash?: string }
  | { ok: false; records: number; index: number; seq?: number; id?: string; problem: string };

/**
 * Walks a chain of records in order and names the first one that breaks it: edited
 * (its hash does not match its content), removed (a gap in seq, or a prevHash that does
 * not point at the record before), or reordered (seq going backwards).
 * `anchor` is the hash the first record must point at, when the chain continues an
 * archived part (a checkpoint); without it the first record is taken as the start.
 */
export function verifyChain(
  records: Iterable<AuditRecord>,
  anchor?: { seq: number; hash: string },
): VerifyResult {
  let prev: { seq: number; hash: string } | undefined = anchor;
  let count = 0;
  let first: number | undefined;
  for (const r of records) {
    const where = { records: count, index: count, seq: r.seq, id: r.id };
    if (typeof r.seq !== 'number' || typeof r.hash !== 'string' || typeof r.prevHash !== 'string') {
      return {
        ok: false,
        ...where,
        problem: `record #${count + 1} is not an audit record (missing seq, hash or prevHash)`,
      };
    }
    if (hashRecord(r) !== r.hash) {
      return {
        ok: false,
        ...where,
        problem: `record seq ${r.seq} (${r.id}) was edited: its content does not match its hash`,
      };
    }
    if (prev) {
      if (r.seq <= prev.seq) {
        return {
          ok: false,
          ...where,
          problem: `record seq ${r.seq} (${r.id}) is out of order: it follows seq ${prev.seq}`,
        };
      }
      if (r.seq !== prev.seq + 1) {
        return {
          ok: false,
          ...where,
          problem: `record seq ${r.seq} (${r.id}) follows seq ${prev.seq}: ${r.seq - prev.seq - 1} record(s) before it were removed`,
        };
      }
      if (r.prevHash !== prev.hash) {
        return {
          ok: false,
          ...where,
          problem: `record seq ${r.seq} (${r.id}) does not point at the record before it: the chain was broken there`,
        };
      }
    }
    first ??= r.seq;
    prev = { seq: r.seq, hash: r.hash };
    count++;
  }
  return {
    ok: true,
    records: count,
    ...(first !== undefined ? { firstSeq: first } : {}),
    ...(prev ? { lastSeq: prev.seq, lastHash: prev.hash } : {}),
  };
}
