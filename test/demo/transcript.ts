/** Renders Slack text for a terminal: emoji shortcodes as emoji, mrkdwn markers dropped, mentions by name. */
const EMOJI: Record<string, string> = {
  white_check_mark: '✅',
  x: '❌',
  warning: '⚠️',
  hourglass_flowing_sand: '⏳',
  hourglass: '⌛',
  memo: '📝',
  arrow_forward: '▶️',
  arrows_counterclockwise: '🔄',
  fast_forward: '⏩',
  no_entry: '⛔',
  no_entry_sign: '🚫',
  information_source: 'ℹ️',
  mag: '🔍',
  test_tube: '🧪',
  heavy_multiplication_x: '✖️',
  rotating_light: '🚨',
  arrow_right: '➡️',
  raised_hand: '✋',
  clipboard: '📋',
  link: '🔗',
  mute: '🔇',
  loud_sound: '🔊',
  satellite_antenna: '📡',
};

/** Slack text as a person sees it in the client: no markup, links by their label, people by name. */
export function readable(text: string, names: Record<string, string>): string {
  return text
    .replace(/:([a-z_]+):/g, (m, name: string) => EMOJI[name] ?? m)
    .replace(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g, (_m, id: string) => `@${names[id] ?? id}`)
    .replace(
      /<#([A-Z0-9]+)(?:\|([^>]*))?>/g,
      (_m, id: string, label?: string) => `#${names[id] ?? (label || id)}`,
    )
    .replace(/<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>/g, (_m, id: string) => `@${names[id] ?? id}`)
    .replace(/<!date\^\d+\^[^|]*\|([^>]+)>/g, '$1')
    .replace(/<!(here|channel|everyone)>/g, '@$1')
    .replace(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g, '$2')
    .replace(/<((?:https?|mailto):[^>]+)>/g, '$1')
    .replace(/(^|[\s(“"'])\*([^*\n]+)\*(?=$|[\s).,;:!?”"'])/gm, '$1$2')
    .replace(/(^|[\s(“"'])_([^_\n]+)_(?=$|[\s).,;:!?”"'])/gm, '$1$2')
    .replace(/(^|[\s(“"'])~([^~\n]+)~(?=$|[\s).,;:!?”"'])/gm, '$1$2')
    .replace(/```\n?([\s\S]*?)\n?```/g, '$1')
    .replace(/`([^`\n]+)`/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * While the bot works and Slack's pacing (about one message a second per channel) drains the
 * thread, a line every few seconds says what has arrived, so the demo is never silent.
 */
export async function withProgress<T>(what: string, count: () => number, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    process.stdout.write(
      `  … ${what}: ${count()} so far (${seconds} s; Slack takes about one message a second per channel)\n`,
    );
  }, 4_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');
}
