/**
 * Imported first by every entry point (the CLI, the demo, the bench), before any library: on a Node
 * too old for @slack/bolt 5 and @kubernetes/client-node 2, stop with one line that says how to get a
 * suitable one, instead of a TypeError deep inside undici. No imports, so it runs on any Node.
 */
export const MIN_NODE = [22, 15] as const;

/** The one-line problem for a Node version, or undefined when it is recent enough. */
export function nodeVersionProblem(
  version: string = process.versions.node,
  platform: string = `${process.platform}-${process.arch}`,
): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return undefined;
  const bin = platform.startsWith('win32') ? '' : '/bin';
  return (
    `backout needs Node.js ${MIN_NODE.join('.')} or newer (24 LTS recommended); this is Node ${version}. ` +
    `Get Node 24 from the npm registry: npm install --prefix ~/.cache/node24 --no-save node-${platform}@24 ` +
    `&& export PATH=~/.cache/node24/node_modules/node-${platform}${bin}:$PATH`
  );
}

const problem = nodeVersionProblem();
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
