import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAuditLines, sha256 } from './file.js';
import { checkpointOf, type AuditRecord } from './record.js';
import { GENESIS_ANCHOR, verifyChain, type VerifyResult } from './verify.js';

export interface ArchiveFile {
  path: string;
  name: string;
  records: AuditRecord[];
  sha256: string;
}

/** The archive files in `dir` (`*.jsonl`), in chain order (by their first seq). */
export async function readArchives(dir: string): Promise<ArchiveFile[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      const bytes = await readFile(path);
      return { path, name, records: parseAuditLines(bytes.toString('utf8')), sha256: sha256(bytes) };
    }),
  );
  return files.sort((a, b) => (a.records[0]?.seq ?? 0) - (b.records[0]?.seq ?? 0));
}

export type Problem = { seq?: number; id?: string; problem: string };

/**
 * Compares two copies of the same chain (the JSON-lines file against the stream): every
 * seq both hold must be the same record, and the file must reach the stream's head.
 */
export function compareCopies(
  file: readonly AuditRecord[],
  stream: readonly AuditRecord[],
): Problem | undefined {
  const bySeq = new Map(stream.map((r) => [r.seq, r]));
  for (const r of file) {
    const other = bySeq.get(r.seq);
    if (other && other.hash !== r.hash) {
      return {
        seq: r.seq,
        id: r.id,
        problem: `record seq ${r.seq} (${r.id}) is not the stream's record seq ${r.seq} (${other.id}): one of the two copies was rewritten`,
      };
    }
  }
  const fileLast = file[file.length - 1]?.seq ?? 0;
  const streamLast = stream[stream.length - 1]?.seq ?? 0;
  if (fileLast < streamLast) {
    const from = fileLast + 1;
    const next = stream.find((r) => r.seq >= from);
    return {
      ...(next ? { seq: next.seq, id: next.id } : {}),
      problem: `the file ends at seq ${fileLast} but the stream goes on to seq ${streamLast}: seq ${from}–${streamLast} are missing from the file (truncated, or not written yet: a running backout writes them with its next record)`,
    };
  }
  if (fileLast > streamLast && stream.length > 0) {
    const extra = file.find((r) => r.seq > streamLast)!;
    return {
      seq: extra.seq,
      id: extra.id,
      problem: `record seq ${extra.seq} (${extra.id}) is in the file but not in the stream, which ends at seq ${streamLast}`,
    };
  }
  return undefined;
}

/**
 * Verifies archives and the live chain as one chain from the very first record: the
 * archives in order, then the live records after them. Each checkpoint's archive, when
 * present, must be byte-for-byte the file it recorded.
 */
export function verifyFromGenesis(
  archives: readonly ArchiveFile[],
  live: readonly AuditRecord[],
): VerifyResult | (Problem & { ok: false }) {
  const chain: AuditRecord[] = [];
  for (const a of archives) chain.push(...a.records);
  const archivedThrough = chain[chain.length - 1]?.seq ?? 0;
  const byArchivedSeq = new Map(chain.map((r) => [r.seq, r]));
  for (const r of live) {
    if (r.seq <= archivedThrough) {
      const archived = byArchivedSeq.get(r.seq);
      if (archived && archived.hash !== r.hash) {
        return {
          ok: false,
          seq: r.seq,
          id: r.id,
          problem: `live record seq ${r.seq} (${r.id}) differs from the archived record seq ${r.seq} (${archived.id})`,
        };
      }
      continue;
    }
    chain.push(r);
  }
  const result = verifyChain(chain, GENESIS_ANCHOR);
  if (!result.ok) return result;
  const byName = new Map(archives.map((a) => [a.name, a]));
  for (const r of chain) {
    const cp = checkpointOf(r);
    if (!cp?.archive || !cp.archiveSha256) continue;
    const file = byName.get(cp.archive);
    if (file && file.sha256 !== cp.archiveSha256) {
      return {
        ok: false,
        seq: r.seq,
        id: r.id,
        problem: `archive ${cp.archive} is not the file checkpoint seq ${r.seq} recorded (its SHA-256 differs): it was altered`,
      };
    }
  }
  return result;
}
