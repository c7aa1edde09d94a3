/** One `backout` command as `help`, `--help` and shell completion describe it. */
export interface CliCommand {
  /** Words that name it: `doctor`, `config check`. */
  name: string;
  summary: string;
  usage: string;
  description: string;
  /** Options with their meaning, for help and completion. */
  options: readonly { flag: string; value?: string; about: string }[];
  examples: readonly string[];
}

export const COMMANDS: readonly CliCommand[] = [
  {
    name: 'start',
    summary: 'Run the bot: the Slack endpoint, the workers, health and metrics',
    usage: 'backout start',
    description:
      'Validates the environment and the config file (every problem in one message), then serves Slack on\n' +
      'POST /slack/events (or Socket Mode when SLACK_APP_TOKEN is set), /healthz/live, /healthz/ready and\n' +
      '/metrics on PORT, and runs the workers (BACKOUT_ROLE). SIGTERM or SIGINT stops it: running jobs\n' +
      'finish or are handed back within BACKOUT_SHUTDOWN_TIMEOUT.',
    options: [],
    examples: ['backout start', 'BACKOUT_ROLE=worker backout start', 'DRY_RUN=true backout start'],
  },
  {
    name: 'init',
    summary: 'Write a commented backout.yml from what this machine can see',
    usage: 'backout init [--out <file>] [--force]',
    description:
      'Looks at the kube contexts in KUBECONFIG (or ~/.kube/config) and the Deployments in each context\n' +
      "namespace, and at the GitHub repository of the current directory's git remote, and writes a\n" +
      'backout.yml that names them, with a comment on every key. An existing file is kept unless --force.',
    options: [
      { flag: '--out', value: 'file', about: 'where to write (default ./backout.yml; - for stdout)' },
      { flag: '--force', about: 'overwrite an existing file' },
    ],
    examples: ['backout init', 'backout init --out - | less', 'KUBECONFIG=~/.kube/prod backout init --force'],
  },
  {
    name: 'config check',
    summary: 'Validate the config file and say what is wrong, line by line',
    usage: 'backout config check [file]',
    description:
      'Reads the file (default: BACKOUT_CONFIG, else ./backout.yml) and lists every problem with its\n' +
      'line and the expected form. Exit 0: valid; 1: problems.',
    options: [],
    examples: ['backout config check', 'backout config check deploy/backout.yml'],
  },
  {
    name: 'doctor',
    summary: 'Check every connection and permission, with the fix for each failure',
    usage: 'backout doctor [--json]',
    description:
      'Checks the environment and config file; the Slack token, its scopes against manifest.yml and the\n' +
      "bot's channels; each kube context and the RBAC verbs backout uses; the GitHub token's access to\n" +
      'each repository; Redis (reachable, noeviction, persistence). A failure names the URL, the cause\n' +
      '(ECONNREFUSED, 401…) and the fix. Exit 0 only when nothing failed.',
    options: [{ flag: '--json', about: 'machine-readable output' }],
    examples: ['backout doctor', 'backout doctor --json | jq ".checks[] | select(.status != \\"ok\\")"'],
  },
  {
    name: 'audit verify',
    summary: 'Verify the hash-chained audit log and name the first bad record',
    usage: 'backout audit verify [--file <audit.jsonl>] [--archive <dir>] [--no-stream]',
    description:
      'Checks the Redis stream, the JSON-lines file and the archives as one chain. Exit 0: the chain\n' +
      'holds; 1: a record was edited, removed or reordered (named); 2: usage.',
    options: [
      { flag: '--file', value: 'file', about: 'the JSON-lines file (default AUDIT_LOG_DIR/audit.jsonl)' },
      { flag: '--archive', value: 'dir', about: 'the archives (default AUDIT_LOG_DIR/archive)' },
      { flag: '--no-stream', about: 'do not read Redis (files only)' },
    ],
    examples: ['backout audit verify', 'backout audit verify --file /backup/audit.jsonl --no-stream'],
  },
  {
    name: 'audit archive',
    summary: 'Archive audit records older than the retention, with a checkpoint',
    usage: 'backout audit archive [--older-than <duration>]',
    description:
      'Moves records older than audit.retention (default 400d) to AUDIT_LOG_DIR/archive and appends a\n' +
      'checkpoint record that keeps the chain verifiable across the cut. Workers also do it every 6 hours.',
    options: [{ flag: '--older-than', value: 'duration', about: 'instead of audit.retention, e.g. 90d' }],
    examples: ['backout audit archive', 'backout audit archive --older-than 90d'],
  },
  {
    name: 'report',
    summary: 'Write the compliance report (CSV or JSON) from the audit log',
    usage:
      'backout report --since <duration|date> [--until <duration|date>] [--format csv|json] [--service <name>] [--out <file>] [--no-stream]',
    description:
      'One row per audit event (time, type, service, environment, release, actor, approver, plan hash,\n' +
      'outcome, reason), then a summary. CSV follows RFC 4180 and defuses spreadsheet formulas.',
    options: [
      { flag: '--since', value: 'duration|date', about: 'start, e.g. 365d or 2026-01-01' },
      { flag: '--until', value: 'duration|date', about: 'end (default now)' },
      { flag: '--format', value: 'csv|json', about: 'default csv' },
      { flag: '--service', value: 'name', about: 'one service only' },
      { flag: '--out', value: 'file', about: 'write to a file instead of stdout' },
      { flag: '--no-stream', about: 'read the file only, not Redis' },
    ],
    examples: [
      'backout report --since 365d --out audit-2026.csv',
      'backout report --since 30d --format json --service checkout-api',
    ],
  },
  {
    name: 'timeline',
    summary: "An incident's timeline and time to mitigate, from the audit log",
    usage: 'backout timeline <request-id> | --channel <C…> [--since <duration|date>] [--format md|json]',
    description:
      'Alert fired, proposal posted, approved by whom, each step with its duration, verified, status page\n' +
      'posts and silences, then the stages alert → proposal → approval → applied → verified. Built from\n' +
      "backout's own audit records (archives, the file, the Redis stream), never from Slack. With\n" +
      '--channel, every request filed in that channel in the window (default 24h) counts as one incident.',
    options: [
      { flag: '--channel', value: 'C…', about: 'the incident channel instead of one request' },
      { flag: '--since', value: 'duration|date', about: 'with --channel: window start (default 24h)' },
      { flag: '--format', value: 'md|json', about: 'default md' },
    ],
    examples: [
      'backout timeline rb-7kq2m9x4',
      'backout timeline --channel C0CHECKOUT --since 24h --format json',
    ],
  },
  {
    name: 'report api',
    summary: "Export who still calls a service's deprecated endpoints (CSV or JSON)",
    usage: 'backout report api --service <name> [--days <1-35>] [--format csv|json] [--out <file>]',
    description:
      "Per endpoint and client over the last days: requests, share of the endpoint's traffic, first and\n" +
      'last seen, the trend (rising, flat, falling), then one column per day. CSV is RFC 4180 and\n' +
      'formula-safe. Reads the usage counts the middleware and `backout proxy` keep in Redis.',
    options: [
      { flag: '--service', value: 'name', about: 'the service in backout.yml (required)' },
      { flag: '--days', value: '1-35', about: 'how many days back (default 30)' },
      { flag: '--format', value: 'csv|json', about: 'default csv' },
      { flag: '--out', value: 'file', about: 'write to a file instead of stdout' },
    ],
    examples: [
      'backout report api --service checkout-api --out checkout-usage.csv',
      'backout report api --service checkout-api --days 7 --format json',
    ],
  },
  {
    name: 'proxy',
    summary: 'Serve API retirement in front of any service, as a reverse proxy',
    usage:
      'backout proxy --service <name> --upstream <http(s)://host:port> [--listen <[host]:port>] [--admin-listen <[host]:port>] [--client-id source|header:<name>|api-key:<header>] [--trusted-proxies <cidr,…>] [--upstream-timeout <duration>] [--connect-timeout <duration>]',
    description:
      'Applies the same deprecation decisions as the middleware, from the same registry in Redis\n' +
      '(REDIS_URL, BACKOUT_PREFIX): Deprecation/Sunset headers, brownouts, 410 once retired; counts usage\n' +
      'per client. Bodies stream both ways; WebSocket upgrades pass. With Redis away it keeps deciding from\n' +
      'the last registry it loaded. The admin port serves /healthz and /metrics.',
    options: [
      { flag: '--service', value: 'name', about: 'the service in backout.yml (required)' },
      { flag: '--upstream', value: 'url', about: 'where requests go (required)' },
      { flag: '--listen', value: '[host]:port', about: 'where clients connect (default :8081)' },
      { flag: '--admin-listen', value: '[host]:port', about: '/healthz and /metrics (default :9464)' },
      {
        flag: '--client-id',
        value: 'how',
        about: 'source (default), header:<name> or api-key:<header>: who is counted as the caller',
      },
      { flag: '--trusted-proxies', value: 'cidr,…', about: 'hops whose X-Forwarded-For is believed' },
      { flag: '--upstream-timeout', value: 'duration', about: 'answer 504 after this (default 60s)' },
      { flag: '--connect-timeout', value: 'duration', about: 'answer 502 after this (default 5s)' },
    ],
    examples: [
      'backout proxy --service checkout-api --upstream http://127.0.0.1:8080 --listen :8081',
      'backout proxy --service checkout-api --upstream http://app:8080 --client-id header:X-Client-Id',
    ],
  },
  {
    name: 'api openapi',
    summary: 'Mark in an OpenAPI document what the registry deprecates, or check they agree',
    usage:
      'backout api openapi <spec.yaml|json> --service <name> [--out <file>] [--check] [--base-path </prefix>]',
    description:
      'Every operation a deprecated entry matches gets deprecated: true, x-sunset, the Deprecation,\n' +
      'Sunset and Link headers and a 410 response; operations no longer in the registry are unmarked.\n' +
      'With --check, exits 1 listing each disagreement (for CI). YAML comments are not kept.',
    options: [
      { flag: '--service', value: 'name', about: 'the service in backout.yml (required)' },
      { flag: '--out', value: 'file', about: 'write the marked document here (default stdout)' },
      { flag: '--check', about: 'change nothing; exit 1 when spec and registry disagree' },
      { flag: '--base-path', value: '/prefix', about: "instead of the first server URL's path" },
    ],
    examples: [
      'backout api openapi openapi.yaml --service checkout-api --out openapi.yaml',
      'backout api openapi openapi.yaml --service checkout-api --check',
    ],
  },
  {
    name: 'redis-acl',
    summary: 'Print the ACL SETUSER line for a least-privilege middleware Redis user',
    usage: 'backout redis-acl middleware [--user <name>] [--password <password>]',
    description:
      'Prints (stdout) the Redis 7 ACL for a user that may only read the registry of BACKOUT_PREFIX,\n' +
      'listen for its changes and write usage counts: no requests, locks, queues or audit. Without\n' +
      '--password one is generated and shown once on stderr.',
    options: [
      { flag: '--user', value: 'name', about: 'the user name (default backout-middleware)' },
      { flag: '--password', value: 'password', about: 'instead of a generated one' },
    ],
    examples: ['BACKOUT_PREFIX=backout backout redis-acl middleware --user checkout-mw | redis-cli'],
  },
  {
    name: 'completion',
    summary: 'Print a shell completion script (bash, zsh or fish)',
    usage: 'backout completion bash|zsh|fish',
    description: 'Prints a script that completes backout commands and options in your shell.',
    options: [],
    examples: [
      'source <(backout completion bash)            # bash, this shell',
      'backout completion zsh > "${fpath[1]}/_backout"   # zsh',
      'backout completion fish > ~/.config/fish/completions/backout.fish',
    ],
  },
  {
    name: 'version',
    summary: "Print backout's version",
    usage: 'backout version   (or backout --version)',
    description: "Prints backout's version and the Node.js it runs on.",
    options: [],
    examples: ['backout version'],
  },
  {
    name: 'help',
    summary: 'Help about any command',
    usage: 'backout help [command]',
    description: 'Without a command, lists them all; with one, describes it with examples (as --help does).',
    options: [],
    examples: ['backout help', 'backout help report'],
  },
];

/** The command that `words` start with (longest name first), and the words after it. */
export function findCommand(words: readonly string[]): { command: CliCommand; rest: string[] } | undefined {
  const sorted = [...COMMANDS].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const command of sorted) {
    const parts = command.name.split(' ');
    if (parts.every((p, i) => words[i] === p)) return { command, rest: words.slice(parts.length) };
  }
  return undefined;
}

/** The commands under a group word (`audit` → audit verify, audit archive). */
export function commandsUnder(group: string): CliCommand[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `));
}

export function overview(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `backout ${version} — Slack chat-ops for the worst hour of a release.`,
    '',
    'Usage:',
    '  backout <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options:',
    '  -h, --help       help for backout or for a command',
    '  -v, --version    print the version',
    '',
    'Run "backout help <command>" or "backout <command> --help" for more about a command.',
    'The environment (SLACK_BOT_TOKEN, REDIS_URL, PORT, …) is described in README.md ("Environment").',
  ].join('\n');
}

export function commandHelp(command: CliCommand): string {
  const width =
    Math.max(0, ...command.options.map((o) => o.flag.length + (o.value ? o.value.length + 3 : 0))) + 2;
  return [
    command.summary + '.',
    '',
    'Usage:',
    `  ${command.usage}`,
    '',
    command.description,
    ...(command.options.length
      ? [
          '',
          'Options:',
          ...command.options.map(
            (o) => `  ${(o.value ? `${o.flag} <${o.value}>` : o.flag).padEnd(width)}${o.about}`,
          ),
        ]
      : []),
    '',
    'Examples:',
    ...command.examples.map((e) => `  ${e}`),
  ].join('\n');
}
