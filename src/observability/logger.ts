import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Token shapes we never want in a log line, whatever field they hide in. */
const SECRET_PATTERNS = [
  /xox[abposr]-[A-Za-z0-9-]+/g,
  /xapp-[A-Za-z0-9-]+/g,
  /gh[pousr]_[A-Za-z0-9]{20,}/g,
  /github_pat_[A-Za-z0-9_]{20,}/g,
  /(Bearer|token)\s+[A-Za-z0-9._~+/=-]{16,}/gi,
];

export function scrubSecrets(text: string, extra: readonly string[] = []): string {
  let out = text;
  for (const secret of extra) {
    if (secret.length >= 6) out = out.split(secret).join('[REDACTED]');
  }
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (_match, scheme: unknown) =>
      typeof scheme === 'string' ? `${scheme} [REDACTED]` : '[REDACTED]',
    );
  }
  return out;
}

/**
 * pino with secrets redacted twice over: known fields by path, and any token-shaped
 * string (or a configured secret value) anywhere in the serialised line.
 */
export function createLogger(opts: {
  level: string;
  secrets: readonly string[];
  destination?: DestinationStream;
}): Logger {
  const secrets = opts.secrets.filter((s) => s.length >= 6);
  const scrubbing: DestinationStream = {
    write(line: string) {
      (opts.destination ?? process.stdout).write(scrubSecrets(line, secrets));
    },
  };
  return pino(
    {
      level: opts.level,
      base: { service: 'backout' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'token',
          '*.token',
          'headers.authorization',
          '*.headers.authorization',
          'config.headers.authorization',
          'request.headers.authorization',
          'signingSecret',
          'password',
          '*.password',
        ],
        censor: '[REDACTED]',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    scrubbing,
  );
}
