import type { SocketModeDouble } from '../doubles/slack-socket-mode.js';
import type { SlackReply } from './slack-signing.js';

/**
 * Turns the form body Slack would POST over HTTP into the Socket Mode envelope Slack sends
 * instead: a slash command's fields as `slash_commands`, an interaction's `payload` as
 * `interactive`. The reply is the ack frame's payload, shaped like the HTTP answer (status 200,
 * the payload as the JSON body); an envelope never acknowledged answers status 0.
 */
export function socketDelivery(socket: SocketModeDouble): (formBody: string) => Promise<SlackReply> {
  return async (formBody) => {
    const form = new URLSearchParams(formBody);
    const interaction = form.get('payload');
    const started = performance.now();
    try {
      const ack =
        interaction !== null
          ? await socket.send('interactive', JSON.parse(interaction) as Record<string, unknown>)
          : await socket.send('slash_commands', Object.fromEntries(form));
      const body = ack.payload ? JSON.stringify(ack.payload) : '';
      return { status: 200, body, ...(ack.payload ? { json: ack.payload } : {}), elapsedMs: ack.elapsedMs };
    } catch (err) {
      return { status: 0, body: (err as Error).message, elapsedMs: performance.now() - started };
    }
  };
}
