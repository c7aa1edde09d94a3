/** One message that lists every problem at once and says where to look. */
export function formatStartupProblems(problems: string[]): string {
  return [
    `backout cannot start: ${problems.length} problem${problems.length === 1 ? '' : 's'} with its settings.`,
    ...problems.map((p) => `  - ${p}`),
    '',
    'Environment variables and the config file are described in README.md ("Configuration");',
    'create the Slack app from manifest.yml to get the tokens. `backout config check` validates the file alone.',
  ].join('\n');
}
