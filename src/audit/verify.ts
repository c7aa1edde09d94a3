import { GENESIS_HASH, checkpointOf, hashRecord, type AuditRecord } from './record.js';

export type VerifyResult =
  | { ok: true; records: number; firstSeq?: number; lastSeq?: number; lastHash?: string }
  | { ok: false; records: number; index: number; seq?: number; id?: string; problem: string };

export interface Anchor {
  seq: number;
  hash: string;
}

/** The anchor of a chain that starts at the very first record. */
export const GENESIS_ANCHOR: Anchor = { seq: 0, hash: GENESIS_HASH };

/**
 * Walks a chain of records in order and names the first one that breaks it: edited
 * (its hash does not match its content), removed (a gap in seq, or a prevHash that does
 * not point at the record before), or reordered (a record that comes before one with a
 * smaller seq). `anchor` is the record the first one must point at: GENESIS_ANCHOR for a
 * chain from the start, a checkpoint's `throughSeq`/`throughHash` for a chain that
 * continues an archived part; without it the first record is taken as the start.
 */
export function verifyChain(records: Iterable<AuditRecord>, anchor?: Anchor): VerifyResult {
  const list = [...records];
  // For telling "reordered" from "removed": where each seq appears.
  const laterSeqs = new Map<number, number>();
  list.forEach((r, i) => {
    if (typeof r.seq === 'number' && Number.isFinite(r.seq)) laterSeqs.set(r.seq, i);
  });
  let prev: (Anchor & { index?: number; id?: string }) | undefined = anchor;
  let first: number | undefined;
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    const name = `record seq ${r.seq} (${r.id})`;
    const at = (index: number, record: AuditRecord, problem: string): VerifyResult => ({
      ok: false,
      records: i,
      index,
      seq: record.seq,
      id: record.id,
      problem,
    });
    if (
      typeof r.seq !== 'number' ||
      !Number.isFinite(r.seq) ||
      typeof r.hash !== 'string' ||
      typeof r.prevHash !== 'string'
    ) {
      return at(i, r, `record #${i + 1} is not an audit record (missing seq, hash or prevHash)`);
    }
    if (hashRecord(r) !== r.hash) {
      return at(i, r, `${name} was edited: its content does not match its hash`);
    }
    if (prev) {
      if (r.seq <= prev.seq) {
        return at(i, r, `${name} is out of order: it comes after seq ${prev.seq}`);
      }
      if (r.seq !== prev.seq + 1) {
        let movedLater: number | undefined;
        for (const [s, pos] of laterSeqs) {
          if (s > prev.seq && s < r.seq && pos > i && (movedLater === undefined || s < movedLater))
            movedLater = s;
        }
        if (movedLater !== undefined) {
          return at(i, r, `${name} is out of order: it comes before seq ${movedLater}`);
        }
        const n = r.seq - prev.seq - 1;
        const what =
          n === 1 ? `seq ${prev.seq + 1} was` : `seq ${prev.seq + 1}–${r.seq - 1} (${n} records) were`;
        return at(i, r, `${name} follows seq ${prev.seq}: ${what} removed before it`);
      }
      if (r.prevHash !== prev.hash) {
        // Both hashes hold on their own, so one of the two was rewritten and re-hashed.
        if (prev.index !== undefined) {
          const before = list[prev.index]!;
          return at(
            prev.index,
            before,
            `record seq ${before.seq} (${before.id}) is not the record seq ${r.seq} was chained to: it was replaced or re-hashed after seq ${r.seq} was written`,
          );
        }
        return at(
          i,
          r,
          prev.seq === 0
            ? `${name} does not start the chain: it points at a record that is not there (removed or archived without a checkpoint)`
            : `${name} does not point at seq ${prev.seq} as recorded by the checkpoint: the chain was broken there`,
        );
      }
    }
    first ??= r.seq;
    prev = { seq: r.seq, hash: r.hash, index: i, id: r.id };
  }
  return {
    ok: true,
    records: list.length,
    ...(first !== undefined ? { firstSeq: first } : {}),
    ...(prev && list.length > 0 ? { lastSeq: prev.seq, lastHash: prev.hash } : {}),
  };
}

/**
 * Decides where a live chain (the stream, or the JSON-lines file) must start from: the
 * genesis when it begins at seq 1, otherwise the checkpoint inside it that accounts for
 * the records before its first one. Undefined when nothing accounts for them.
 */
export function liveAnchor(
  records: readonly AuditRecord[],
): { anchor: Anchor; checkpoint?: AuditRecord } | undefined {
  const head = records[0];
  if (!head || head.seq === 1) return { anchor: GENESIS_ANCHOR };
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    const cp = checkpointOf(r);
    if (cp && cp.throughSeq === head.seq - 1) {
      return { anchor: { seq: cp.throughSeq, hash: cp.throughHash }, checkpoint: r };
    }
  }
  return undefined;
}

/** Verifies a live chain from its anchor; the first record is named when nothing anchors it. */
export function verifyLive(records: readonly AuditRecord[]): VerifyResult & { checkpoint?: AuditRecord } {
  const anchored = liveAnchor(records);
  if (!anchored) {
    const head = records[0]!;
    // A chain that is broken further on may hide the checkpoint: report the earliest break.
    const loose = verifyChain(records);
    if (!loose.ok) return loose;
    return {
      ok: false,
      records: 0,
      index: 0,
      seq: head.seq,
      id: head.id,
      problem: `record seq ${head.seq} (${head.id}) is the first one, but no checkpoint accounts for seq 1–${head.seq - 1}: they were removed`,
    };
  }
  const result = verifyChain(records, anchored.anchor);
  return anchored.checkpoint ? { ...result, checkpoint: anchored.checkpoint } : result;
}
