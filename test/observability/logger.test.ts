import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';

const SECRETS = {
  bot: 'xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx',
  app: 'xapp-1-A0123456789-1234567890123-abcdef0123456789',
  signing: 'c0ffee0123456789abcdef0123456789',
  github: 'ghp_0123456789abcdefABCDEF0123456789abcd',
  githubPat: 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789',
  bearer: 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.signature',
  redisPassword: 's3cr3t-redis-pass',
};

describe('logs', () => {
  it('never carry a token or secret value, wherever it hides', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'debug',
      secrets: [SECRETS.bot, SECRETS.app, SECRETS.signing, SECRETS.github, SECRETS.redisPassword],
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    log.info({ token: SECRETS.bot }, 'a token field');
    log.info({ client: { token: SECRETS.app } }, 'a nested token field');
    log.info({ signingSecret: SECRETS.signing }, 'the signing secret');
    log.info({ headers: { authorization: `token ${SECRETS.github}` } }, 'an authorization header');
    log.info({ request: { headers: { authorization: `Bearer ${SECRETS.bearer}` } } }, 'a request');
    log.warn(
      { err: new Error(`GitHub said 401 for ${SECRETS.githubPat} and ${SECRETS.github}`) },
      'an error',
    );
    log.error(`Slack refused ${SECRETS.bot}; Redis redis://:${SECRETS.redisPassword}@redis:6379 too`);
    log
      .child({ requestId: 'rb-1', jobId: 'rb-1' })
      .info({ config: { headers: { authorization: SECRETS.bearer } } }, 'child');
    log.debug({ url: `https://hooks.example/?signing=${SECRETS.signing}` }, 'a secret inside a URL');

    expect(lines).toHaveLength(9);
    const all = lines.join('');
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(all.includes(value), `${name} leaked`).toBe(false);
    }
    expect(all).toContain('[REDACTED]');
    // The lines stay JSON, with their correlation ids.
    const child = JSON.parse(lines[7]!) as Record<string, unknown>;
    expect(child).toMatchObject({ requestId: 'rb-1', jobId: 'rb-1', msg: 'child' });
  });
});
