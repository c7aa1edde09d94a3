import { existsSync } from 'node:fs';
import type { Config } from '../../config/model.js';
import type { Environ } from './client.js';

/**
 * Start-up problems with the Prometheus secrets the config names: a variable that is not set,
 * a file that does not exist. Said at start-up rather than at the first rollback's verify step.
 */
export function prometheusSecretProblems(config: Config, environ: Environ): string[] {
  const problems: string[] = [];
  for (const svc of config.services.values()) {
    for (const env of svc.environments.values()) {
      const p = env.health?.prometheus;
      if (!p) continue;
      const at = `services.${svc.name}.environments.${env.name}.health.prometheus`;
      const variable = (key: string, name: string | undefined) => {
        if (name && !environ[name]) problems.push(`${at}.${key} names ${name}, which is not set`);
      };
      const file = (key: string, path: string | undefined) => {
        if (path && !existsSync(path)) problems.push(`${at}.${key} names ${path}, which does not exist`);
      };
      variable('tokenEnv', p.tokenEnv);
      file('tokenFile', p.tokenFile);
      variable('basicAuth.passwordEnv', p.basicAuth?.passwordEnv);
      file('basicAuth.passwordFile', p.basicAuth?.passwordFile);
      file('caFile', p.caFile);
      for (const [header, value] of Object.entries(p.headers)) {
        if (typeof value === 'string') continue;
        if ('env' in value) variable(`headers.${header}`, value.env);
        else file(`headers.${header}`, value.file);
      }
    }
  }
  return problems;
}
