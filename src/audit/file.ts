import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuditRecord } from './record.js';

/** Reads a JSON-lines audit file; a line that is not JSON is reported by the verifier as edited. */
export async function readAuditFile(path: string): Promise<AuditRecord[]> {
  return parseAuditLines(await readFile(path, 'utf8'));
}

export function parseAuditLines(text: string): AuditRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      try {
        const value: unknown = JSON.parse(line);
        if (value && typeof value === 'object' && !Array.isArray(value)) return value as AuditRecord;
      } catch {
        // Falls through: reported as a line that is not an audit record.
      }
      return { seq: Number.NaN, id: `line ${i + 1}`, hash: '', prevHash: '' } as unknown as AuditRecord;
    });
}

export function serialise(records: readonly AuditRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** Size and inode of a file, or undefined when it does not exist. */
export async function fileIdentity(path: string): Promise<{ ino: number; size: number } | undefined> {
  try {
    const s = await stat(path);
    return { ino: s.ino, size: s.size };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The file's last record, read from its end (the file can be large). */
export async function lastAuditRecord(path: string): Promise<AuditRecord | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    let chunk = 64 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      await handle.read(buf, 0, buf.length, start);
      const lines = buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      // A complete last line needs the newline before it, unless the read began at the start.
      if (lines.length === 0) return undefined;
      if (lines.length > 1 || start === 0) {
        const last = lines[lines.length - 1]!;
        try {
          return JSON.parse(last) as AuditRecord;
        } catch {
          throw new Error(`the last line of ${path} is not an audit record; run \`backout audit verify\``);
        }
      }
      chunk *= 4;
    }
  } finally {
    await handle.close();
  }
}

/** Appends lines and syncs them to disk; returns the file's identity afterwards. */
export async function appendAuditRecords(
  path: string,
  records: readonly AuditRecord[],
): Promise<{ ino: number; size: number }> {
  const handle = await open(path, 'a');
  try {
    await handle.write(serialise(records));
    await handle.sync();
    const s = await handle.stat();
    return { ino: s.ino, size: s.size };
  } finally {
    await handle.close();
  }
}

/** Replaces a file atomically (temporary file, fsync, rename); returns the sha-256 of the bytes. */
export async function writeFileAtomically(path: string, text: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.write(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  return sha256(text);
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
