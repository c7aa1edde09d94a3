import { pickEnvironment, type Config } from '../config/model.js';
import type { SpanAttributes } from './tracing.js';

/**
 * The service, environment and target a parsed command is about, for its span: commands
 * whose parsed form names a `service` (and optionally an `env`) get them; the
 * environment is the one the command will use (named, else the service's default).
 */
export function commandSpanTarget(parsed: unknown, config: Config): SpanAttributes {
  if (!parsed || typeof parsed !== 'object') return {};
  const { service: name, env: named } = parsed as { service?: unknown; env?: unknown };
  if (typeof name !== 'string') return {};
  const service = config.services.get(name);
  const env = service ? pickEnvironment(service, typeof named === 'string' ? named : undefined) : undefined;
  return {
    'backout.service': name,
    ...(env ? { 'backout.environment': env.name, 'backout.target': `${name}/${env.name}` } : {}),
  };
}
