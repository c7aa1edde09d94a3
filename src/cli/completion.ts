import { UsageError } from '../errors.js';
import { COMMANDS } from './catalog.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** Top-level words, the words after a group (`config`, `audit`), and each command's options. */
function words() {
  const top = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!))];
  const groups = new Map<string, string[]>();
  for (const c of COMMANDS) {
    const [head, sub] = c.name.split(' ');
    if (sub) groups.set(head!, [...(groups.get(head!) ?? []), sub]);
  }
  const options = COMMANDS.map((c) => ({ name: c.name, flags: [...c.options.map((o) => o.flag), '--help'] }));
  return { top, groups, options };
}

/** `backout completion bash|zsh|fish`: a completion script generated from the command catalog. */
export function completionScript(shell: string | undefined): string {
  if (!SHELLS.includes(shell as (typeof SHELLS)[number])) {
    throw new UsageError(`completion needs a shell: ${SHELLS.join(', ')}${shell ? ` (got "${shell}")` : ''}`);
  }
  const { top, groups, options } = words();
  if (shell === 'fish') {
    const lines = [
      '# backout completion for fish: backout completion fish > ~/.config/fish/completions/backout.fish',
      'complete -c backout -f',
      ...COMMANDS.filter((c) => !c.name.includes(' ')).map(
        (c) => `complete -c backout -n __fish_use_subcommand -a ${c.name} -d ${JSON.stringify(c.summary)}`,
      ),
      ...[...groups.keys()].map(
        (g) => `complete -c backout -n __fish_use_subcommand -a ${g} -d ${JSON.stringify(`${g} commands`)}`,
      ),
      ...COMMANDS.filter((c) => c.name.includes(' ')).map((c) => {
        const [g, sub] = c.name.split(' ');
        return `complete -c backout -n "__fish_seen_subcommand_from ${g}; and not __fish_seen_subcommand_from ${groups.get(g!)!.join(' ')}" -a ${sub} -d ${JSON.stringify(c.summary)}`;
      }),
      'complete -c backout -n "__fish_seen_subcommand_from completion" -a "bash zsh fish"',
      'complete -c backout -n "__fish_seen_subcommand_from help" -a ' + JSON.stringify(top.join(' ')),
      ...COMMANDS.flatMap((c) =>
        c.options.map((o) => {
          const last = c.name.split(' ').at(-1)!;
          return `complete -c backout -n "__fish_seen_subcommand_from ${last}" -l ${o.flag.slice(2)}${o.value ? ' -r' : ''} -d ${JSON.stringify(o.about)}`;
        }),
      ),
      '',
    ];
    return lines.join('\n');
  }
  // bash (zsh runs the same function through bashcompinit).
  const cases = options
    .map((o) => `    ${JSON.stringify(o.name)}) opts=${JSON.stringify(o.flags.join(' '))} ;;`)
    .join('\n');
  const groupCases = [...groups]
    .map(
      // A group head that is a command itself (`report`) offers its own flags beside its subcommands.
      ([g, subs]) =>
        `      ${g}) COMPREPLY=($(compgen -W ${JSON.stringify([...subs, ...(options.find((o) => o.name === g)?.flags ?? [])].join(' '))} -- "$cur")); return ;;`,
    )
    .join('\n');
  const multiword = COMMANDS.filter((c) => c.name.includes(' '))
    .map((c) => JSON.stringify(c.name))
    .join('|');
  const body = `_backout() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local first="\${COMP_WORDS[1]}" second="\${COMP_WORDS[2]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${JSON.stringify([...top, '--help', '--version'].join(' '))} -- "$cur")); return
  fi
  if [ "$COMP_CWORD" -eq 2 ]; then
    case "$first" in
${groupCases}
      completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return ;;
      help) COMPREPLY=($(compgen -W ${JSON.stringify(top.join(' '))} -- "$cur")); return ;;
    esac
  fi
  local name="$first" opts=""
  case "$first $second" in ${multiword}) name="$first $second" ;; esac
  case "$name" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _backout backout
`;
  if (shell === 'zsh') {
    return `#compdef backout\n# backout completion for zsh: backout completion zsh > "\${fpath[1]}/_backout"\nautoload -U +X bashcompinit && bashcompinit\n${body}`;
  }
  return `# backout completion for bash: source <(backout completion bash)\n${body}`;
}
