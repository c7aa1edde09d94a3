/**
 * CSV as spreadsheets read it (RFC 4180): fields with a comma, quote, CR or LF are
 * quoted and quotes doubled; rows end in CRLF. Cells that a spreadsheet would run as a
 * formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) get a leading
 * apostrophe, and so does a cell already starting with one, so `unneutralise` gives the
 * exact value back.
 */
const FORMULA_START = /^[=+\-@\t\r']/;

export function neutralise(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** The value a neutralised cell stood for. */
export function unneutralise(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}

export function csvCell(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'number' ? String(value) : neutralise(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: readonly (string | number | undefined | null)[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
