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
};

export function readable(text: string, names: Record<string, string>): string {
  return text
    .replace(/:([a-z_]+):/g, (m, name: string) => EMOJI[name] ?? m)
    .replace(/<@([A-Z0-9]+)>/g, (_m, id: string) => `@${names[id] ?? id}`)
    .replace(/<#([A-Z0-9]+)>/g, (_m, id: string) => `#${names[id] ?? id}`)
    .replace(/<!subteam\^([A-Z0-9]+)>/g, (_m, id: string) => `@${names[id] ?? id}`)
    .replace(/<!date\^\d+\^[^|]*\|([^>]+)>/g, '$1')
    .replace(/\*([^*\n]+)\*/g, '$1')
    .replace(/`([^`\n]+)`/g, '$1');
}

export function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');
}
