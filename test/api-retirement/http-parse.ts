/** Test helpers that read the deprecation headers back the way a client would. */

export interface ParsedLink {
  target: string;
  params: Record<string, string>;
}

/** The field value, or a failure naming the header when it is absent. */
function present(value: string | undefined, header: string): string {
  if (value === undefined) throw new Error(`no ${header} header`);
  return value;
}

/** RFC 8288 §3 `Link` field value: `<uri-ref> *( ";" param )` separated by commas, quoted strings honoured. */
export function parseLinkHeader(field: string | undefined): ParsedLink[] {
  const value = present(field, 'Link');
  const links: ParsedLink[] = [];
  let index = 0;
  const skipSpace = () => {
    while (value[index] === ' ' || value[index] === '\t') index++;
  };
  const fail = (why: string): never => {
    throw new Error(`invalid Link header at ${index}: ${why} in ${JSON.stringify(value)}`);
  };
  while (index < value.length) {
    skipSpace();
    if (value[index] !== '<') fail('expected "<"');
    const close = value.indexOf('>', index);
    if (close === -1) fail('unterminated target');
    const target = value.slice(index + 1, close);
    index = close + 1;
    const params: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (value[index] !== ';') break;
      index++;
      skipSpace();
      const name =
        /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(value.slice(index))?.[0] ?? fail('expected a parameter name');
      index += name.length;
      skipSpace();
      if (value[index] !== '=') fail('expected "="');
      index++;
      skipSpace();
      let paramValue = '';
      if (value[index] === '"') {
        index++;
        while (index < value.length && value[index] !== '"') {
          if (value[index] === '\\') index++;
          paramValue += value[index++];
        }
        if (value[index] !== '"') fail('unterminated quoted string');
        index++;
      } else {
        paramValue =
          /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(value.slice(index))?.[0] ?? fail('expected a token');
        index += paramValue.length;
      }
      params[name.toLowerCase()] = paramValue;
    }
    links.push({ target, params });
    skipSpace();
    if (index < value.length) {
      if (value[index] !== ',') fail('expected ","');
      index++;
    }
  }
  return links;
}

/** RFC 9745: a structured-field Date, `@` followed by an integer of seconds since the epoch. */
export function parseDeprecationHeader(field: string | undefined): number {
  const value = present(field, 'Deprecation');
  const match = /^@(-?\d{1,15})$/.exec(value);
  if (!match) throw new Error(`not an RFC 9745 Deprecation value: ${value}`);
  return Number(match[1]) * 1000;
}

/** RFC 9110 §5.6.7 IMF-fixdate, the HTTP-date form RFC 8594's Sunset uses. */
export const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (0[1-9]|[12]\d|3[01]) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d GMT$/;

export function parseSunsetHeader(field: string | undefined): number {
  const value = present(field, 'Sunset');
  if (!IMF_FIXDATE.test(value)) throw new Error(`not an IMF-fixdate: ${value}`);
  return new Date(value).getTime();
}
