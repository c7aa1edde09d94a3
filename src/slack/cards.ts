import type { ActionsBlock, Button, ContextBlock, KnownBlock, SectionBlock } from '@slack/types';
import { formatDuration } from '../config/duration.js';
import { isBackoutError, type BackoutError } from '../errors.js';
import { OUTCOME_MARK, OUTCOME_WORD } from '../requests/outcome.js';
import type { BackoutRequest, RequestState } from '../requests/types.js';
import { describePrincipals, isEmpty } from '../policy/policy.js';
import { needsQuorum, quorumLine } from '../policy/quorum.js';
import { ACTION, encodeActionValue, type ActionName } from './action-codec.js';
import type { SlackMessage } from './notifier.js';
import { plural } from '../text/plural.js';
import { slackDate } from '../text/time.js';

/**
 * Every piece of Block Kit backout sends is built here, by pure functions, within
 * Slack's limits (platform.md §6): ≤50 blocks, section text ≤3000, header ≤150,
 * button text ≤75, value ≤2000, context ≤10 elements. Long content is truncated with
 * a note rather than rejected by Slack.
 */
export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  header: 150,
  buttonText: 75,
  contextElements: 10,
  text: 3900,
};

/** U+2060 WORD JOINER: invisible; after an `@` it stops Slack reading `@here` as a broadcast. */
const JOIN = '\u2060';

/**
 * The one escaping function for text a person, GitHub or a cluster wrote (reasons, release
 * and asset names, condition messages), applied where it goes into mrkdwn. Escaped `&`, `<`,
 * `>` cannot open a `<!here>`, a `<@U…>` mention, a `<#C…>` or a `<https://…|label>` link;
 * an invisible joiner keeps a typed `@here`/`@channel`/`@everyone` from broadcasting. A bare
 * URL stays readable and copyable as typed: it shows its whole target, so no label can
 * disguise where it leads. Apply it once, to the outside part only.
 */
export function esc(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@(?=(here|channel|everyone)\b)/gi, `@${JOIN}`);
}

/**
 * A job's outcome on its card: escaped like any text, except mentions of the request's own people
 * (jobs write "aborted by <@U…>"), which stay mentions rather than show as raw ids. Anyone else
 * named there (in a reason, say) stays text: an outcome never pings a stranger.
 */
function outcomeText(r: BackoutRequest, outcome: string): string {
  return escKeepingMentions(outcome, [
    r.requester,
    r.approver,
    r.decidedBy,
    ...(r.approvals ?? []).map((a) => a.user),
  ]);
}

/** Escapes `text`, keeping mentions (`<@U…>`) of `people` as mentions; anyone else stays text. */
export function escKeepingMentions(text: string, people: readonly (string | undefined)[]): string {
  const known = new Set(people);
  return esc(text).replace(/&lt;@([^&]+)&gt;/g, (raw, id: string) =>
    known.has(id) && SLACK_USER_ID.test(id) ? `<@${id}>` : raw,
  );
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** A person as a mention; anything else (an alert source such as `alertmanager`) as plain text. */
export function requesterText(requester: string): string {
  return SLACK_USER_ID.test(requester) ? `<@${requester}>` : esc(requester);
}

export function truncate(text: string, max: number, note = '…'): string {
  if (text.length <= max) return text;
  return text.slice(0, Math.max(0, max - note.length)) + note;
}

function section(text: string): SectionBlock {
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: truncate(text, LIMITS.sectionText, '\n…(truncated)') },
  };
}

function context(...texts: string[]): ContextBlock {
  return {
    type: 'context',
    elements: texts
      .slice(0, LIMITS.contextElements)
      .map((t) => ({ type: 'mrkdwn' as const, text: truncate(t, 2000) })),
  };
}

/** Packs lines into as few sections as fit, capping the number of blocks used. */
function linesToSections(lines: string[], maxBlocks: number): SectionBlock[] {
  const blocks: SectionBlock[] = [];
  let current = '';
  for (let i = 0; i < lines.length; i++) {
    const line = truncate(lines[i]!, LIMITS.sectionText - 40);
    if (current.length + line.length + 1 > LIMITS.sectionText - 40) {
      if (blocks.length === maxBlocks - 1) {
        blocks.push(
          section(
            `${current}\n…and ${plural(lines.length - i, 'more line')} not shown (Slack's message limit).`,
          ),
        );
        return blocks;
      }
      blocks.push(section(current));
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) blocks.push(section(current));
  return blocks;
}

export function progressBar(done: number, total: number, width = 10): string {
  if (total <= 0) return '';
  const filled = Math.round((Math.min(done, total) / total) * width);
  return `${'▰'.repeat(filled)}${'▱'.repeat(width - filled)} ${Math.min(done, total)}/${total}`;
}

const STATE_LINE: Record<RequestState, string> = {
  pending: ':hourglass_flowing_sand: *Waiting for approval*',
  approved: ':white_check_mark: *Approved* — starting',
  rejected: ':no_entry_sign: *Rejected* — nothing was changed',
  expired: ':hourglass: *Expired* — nobody approved it in time, nothing was changed',
  cancelled: ':heavy_multiplication_x: *Cancelled* — nothing was changed',
  running: ':arrows_counterclockwise: *Running*',
  succeeded: ':white_check_mark: *Done*',
  failed: ':x: *Failed*',
};

export interface CardButton {
  action: ActionName;
  text: string;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string };
}

export interface RequestCardView {
  request: BackoutRequest;
  /** Plain-words plan, one line each (from the job module's describe()). */
  planLines: string[];
  progress?: { done: number; total: number; current?: string };
  /** The status line under the state (e.g. "healthy: 5xx 0.1 %, p99 210 ms"). */
  detail?: string;
  buttons: CardButton[];
}

function button(b: CardButton, request: BackoutRequest): Button {
  return {
    type: 'button',
    action_id: ACTION[b.action],
    text: { type: 'plain_text', text: truncate(b.text, LIMITS.buttonText), emoji: true },
    value: encodeActionValue(request.id, request.planHash),
    ...(b.style ? { style: b.style } : {}),
    ...(b.confirm
      ? {
          confirm: {
            title: { type: 'plain_text', text: truncate(b.confirm.title, 100) },
            text: { type: 'mrkdwn', text: truncate(b.confirm.text, 300) },
            confirm: { type: 'plain_text', text: truncate(b.confirm.confirm, 30) },
            deny: { type: 'plain_text', text: 'Cancel' },
            ...(b.style === 'danger' ? { style: 'danger' as const } : {}),
          },
        }
      : {}),
  };
}

/** The request's parent card: plan, approval, then live status and progress, edited in place. */
export function requestCard(view: RequestCardView): SlackMessage {
  const r = view.request;
  const where = r.environment ? `${r.service} · ${r.environment}` : r.service;
  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(`${kindLabel(r.kind)} · ${where}`, LIMITS.header) },
    },
    section(`*${esc(r.title)}*`),
  ];
  let status = STATE_LINE[r.state];
  if ((r.state === 'succeeded' || r.state === 'failed') && r.outcome) {
    // A failed request never wears a success verdict left by an earlier step (e.g. verify said
    // healthy, then the job was lost before it reported and the sweep failed the request).
    const verdict =
      r.state === 'failed' && (!r.verdict || OUTCOME_WORD[r.verdict] === 'Done') ? 'failed' : r.verdict;
    // 'succeeded' says only that the job ran; the outcome's own words (e.g. assets kept) pick the mark.
    const mark = verdict && verdict !== 'succeeded' ? OUTCOME_MARK[verdict] : statusEmoji(r.outcome);
    const word = verdict ? OUTCOME_WORD[verdict] : 'Done';
    status = `${mark} *${word} — ${outcomeText(r, r.outcome)}*`;
  }
  if (r.state === 'approved' || r.state === 'running' || r.state === 'succeeded' || r.state === 'failed') {
    const by = r.approvals?.length
      ? r.approvals.map((v) => `<@${v.user}>`).join(', ')
      : r.approver && `<@${r.approver}>`;
    if (by) status += `  ·  approved by ${by}${r.breakGlass ? ' (break-glass)' : ''}`;
    else if (!r.approval.required) status += '  ·  no approval needed';
  }
  if ((r.state === 'rejected' || r.state === 'cancelled') && r.decidedBy) status += ` by <@${r.decidedBy}>`;
  const statusLines = [status];
  if (view.progress) {
    statusLines.push(
      `\`${progressBar(view.progress.done, view.progress.total)}\`${view.progress.current ? `  ${esc(view.progress.current)}` : ''}`,
    );
  }
  if (view.detail) statusLines.push(view.detail);
  blocks.push(section(statusLines.join('\n')));

  // A delivery tool (Flagger, Argo Rollouts) or an alert asks on its own behalf: a name, not a mention.
  const facts = [`*Requested by* ${requesterText(r.requester)}`, `*Request* \`${r.id}\``];
  if (r.reason) facts.push(`*Reason* ${esc(r.reason)}`);
  blocks.push(section(facts.join('\n')));

  // Buttons, the approval context and the footer take at most 4 blocks; the plan gets the rest.
  blocks.push(...linesToSections(view.planLines, LIMITS.blocks - blocks.length - 4));

  if (r.state === 'pending' && r.approval.required) {
    const anyone = isEmpty(r.approval.approvers);
    const n = r.approval.minApprovals ?? 1;
    const who = anyone
      ? n > 1
        ? `${n} people`
        : 'anyone'
      : `${n > 1 ? `${n} of ` : ''}${describePrincipals(r.approval.approvers)}`;
    const notRequester = r.approval.twoPerson
      ? anyone
        ? ' other than the requester'
        : ' (not the requester)'
      : '';
    blocks.push(
      context(
        `Needs approval by ${who}${notRequester} before ${slackDate(r.expiresAt)} (${formatDuration(r.expiresAt - r.createdAt)} window).`,
        `Why: ${r.approval.reasons.join('; ')}.`,
        ...(needsQuorum(r.approval) ? [`*${quorumLine(r.approval, r.approvals ?? [])}*`] : []),
      ),
    );
  }
  if (view.buttons.length > 0) {
    const actions: ActionsBlock = {
      type: 'actions',
      block_id: `actions-${r.id}`,
      elements: view.buttons.slice(0, 5).map((b) => button(b, r)),
    };
    blocks.push(actions);
  }
  const footer = [`plan \`${r.planHash.slice(0, 12)}\``];
  if (r.dryRun) footer.unshift(':test_tube: *DRY RUN* — nothing will be changed');
  blocks.push(context(...footer));
  return {
    // The fallback text drives notifications: a `<!here>` in it would ping the channel.
    text: truncate(
      `${kindLabel(r.kind)} ${where}: ${esc(r.title)} — ${outcomeText(r, plainState(r))}`,
      LIMITS.text,
    ),
    blocks,
  };
}

function plainState(r: BackoutRequest): string {
  if (r.verdict === 'overridden' && (r.state === 'succeeded' || r.state === 'failed'))
    return `overridden${r.outcome ? ` (${r.outcome})` : ''}`;
  if (r.state === 'succeeded') return `done${r.outcome ? ` (${r.outcome})` : ''}`;
  if (r.state === 'failed') return `failed${r.outcome ? ` (${r.outcome})` : ''}`;
  if (r.state === 'pending') return 'waiting for approval';
  return r.state;
}

function statusEmoji(outcome: string): string {
  if (/degraded|partial|kept|could not|aborted/i.test(outcome)) return ':warning:';
  if (/no-op|nothing to do|already/i.test(outcome)) return ':information_source:';
  return ':white_check_mark:';
}

export function kindLabel(kind: BackoutRequest['kind']): string {
  switch (kind) {
    case 'rollback':
      return 'Rollback';
    case 'retract':
      return 'Retract release';
    case 'retract-undo':
      return 'Undo retraction';
    case 'canary':
      return 'Canary';
    case 'canary-abort':
      return 'Canary abort';
    case 'api-retire':
      return 'Retire API';
    case 'api-unretire':
      return 'Restore API';
    case 'flag':
      return 'Kill switch';
    case 'rollback-group':
      return 'Group rollback';
    case 'flagger-gate':
      return 'Flagger gate';
    case 'rollout-gate':
      return 'Argo Rollouts gate';
  }
}

/** `warned`: the step finished but found problems (a degraded verification). */
export type StepEvent = 'started' | 'finished' | 'warned' | 'skipped' | 'failed' | 'progress';

/** A threaded reply for one step. */
export function stepReply(opts: {
  index: number;
  total: number;
  label: string;
  event: StepEvent;
  detail?: string;
  durationMs?: number;
}): SlackMessage {
  const icon = {
    started: ':arrow_forward:',
    progress: ':arrows_counterclockwise:',
    finished: ':white_check_mark:',
    warned: ':warning:',
    skipped: ':fast_forward:',
    failed: ':x:',
  }[opts.event];
  const took = opts.durationMs !== undefined ? ` (${formatDuration(opts.durationMs)})` : '';
  const said = { progress: 'in progress', warned: 'finished with problems' }[
    opts.event as 'progress' | 'warned'
  ] as string | undefined;
  const head = `${icon} Step ${opts.index}/${opts.total} · *${esc(opts.label)}* — ${said ?? opts.event}${took}`;
  const text = opts.detail ? `${head}\n${opts.detail}` : head;
  return { text: truncate(text, LIMITS.text), blocks: [section(text)] };
}

/** A plain threaded note (job outcome, child job reports, warnings). */
export function noteReply(text: string): SlackMessage {
  return { text: truncate(text, LIMITS.text), blocks: [section(text)] };
}

/** A threaded note that asks for a decision (the canary's promotion gate): text, then the request's buttons. */
export function actionReply(request: BackoutRequest, text: string, buttons: CardButton[]): SlackMessage {
  const blocks: KnownBlock[] = [section(text)];
  if (buttons.length > 0) {
    blocks.push({
      type: 'actions',
      block_id: `reply-actions-${request.id}`,
      elements: buttons.slice(0, 5).map((b) => button(b, request)),
    });
  }
  return { text: truncate(text, LIMITS.text), blocks };
}

/** Ephemeral text for the user who ran a command or clicked a button. */
export function ephemeral(text: string): SlackMessage {
  return { text: truncate(text, LIMITS.text) };
}

/** The one place errors become Slack text: what happened, then what to do next. */
export function renderError(err: BackoutError | Error): SlackMessage {
  if (isBackoutError(err)) {
    const icon =
      err.code === 'usage'
        ? ':warning:'
        : err.code === 'policy' || err.code === 'busy'
          ? ':no_entry:'
          : ':x:';
    const text = `${icon} ${err.message}${err.hint ? `\n${err.hint}` : ''}`;
    return { text: truncate(text, LIMITS.text) };
  }
  return {
    text: `:x: Something went wrong inside backout: ${truncate(err.message, 500)}\nNothing was changed by this request. If it keeps happening, check the bot's logs.`,
  };
}

export interface HelpSection {
  command: string;
  usage: string[];
  examples: string[];
  notes?: string[];
}

/**
 * Room for the services in a help: with the usage and examples beside them they stay within one
 * section and the message's text.
 */
const SERVICES_ROOM = 2_000;

/**
 * The services this user may act on, for a help: one per line while that fits in half the room;
 * longer, the names grouped by their environments; what still does not fit is counted, never cut
 * off unsaid.
 */
function servicesLine(services: { name: string; environments: string[] }[]): string {
  if (!services.length)
    return '*Services you may act on*: none — ask an admin to add you to a service policy.';
  const listed = services.map((s) => `• \`${s.name}\` (${s.environments.join(', ')})`).join('\n');
  if (listed.length <= SERVICES_ROOM / 2) return `*Services you may act on*\n${listed}`;
  const byEnvironments = new Map<string, string[]>();
  for (const s of services) {
    const envs = s.environments.join(', ');
    let names = byEnvironments.get(envs);
    if (!names) byEnvironments.set(envs, (names = []));
    names.push(`\`${s.name}\``);
  }
  const lines: string[] = [];
  let room = SERVICES_ROOM;
  let shown = 0;
  for (const [envs, names] of byEnvironments) {
    const head = `• _${envs}_: `;
    let length = head.length;
    const fitting: string[] = [];
    for (const name of names) {
      const added = (fitting.length ? 2 : 0) + name.length;
      if (length + added > room) break;
      fitting.push(name);
      length += added;
    }
    if (!fitting.length) break;
    lines.push(head + fitting.join(', '));
    room -= length + 1;
    shown += fitting.length;
  }
  const more = services.length - shown;
  if (more > 0) lines.push(`…and ${plural(more, 'more service')}, not listed for want of room.`);
  return `*Services you may act on* (${services.length})\n${lines.join('\n')}`;
}

/**
 * The help for a command. With `lookingUp`, the services listed are those the config gives this
 * user by name or to everyone, and the ones their user groups give follow in a second message.
 */
export function helpMessage(
  help: HelpSection,
  services: { name: string; environments: string[] }[],
  lookingUp = false,
): SlackMessage {
  const lines = [
    `*${help.command}* — usage`,
    ...help.usage.map((u) => `• \`${u}\``),
    '',
    '*Examples*',
    ...help.examples.map((e) => `• \`${e}\``),
  ];
  if (help.notes?.length) lines.push('', ...help.notes);
  lines.push(
    '',
    lookingUp
      ? `${services.length ? servicesLine(services) : '*Services you may act on*'}\n_Checking your user groups; the full list follows in a moment._`
      : servicesLine(services),
  );
  const text = lines.join('\n');
  return { text: truncate(text, LIMITS.text), blocks: linesToSections(lines, 10) };
}

/** The follow-up to a help that had user groups to look up: every service this user may act on. */
export function servicesMessage(services: { name: string; environments: string[] }[]): SlackMessage {
  const text = servicesLine(services);
  return { text: truncate(text, LIMITS.text), blocks: linesToSections(text.split('\n'), 10) };
}
