import type { KnownBlock, PlainTextOption, View } from '@slack/types';
import { truncate } from './cards.js';

/** Modal views, built as pure functions within Slack's limits (100 options, 75-char labels, 3000-char metadata). */
export const MODAL = {
  rollback: { callbackId: 'rollback_modal', targetAction: 'modal_rollback_target' },
  retract: { callbackId: 'retract_modal', serviceAction: 'modal_retract_service' },
} as const;

export interface Choice {
  value: string;
  label: string;
}

function option(c: Choice): PlainTextOption {
  return { text: { type: 'plain_text', text: truncate(c.label, 75) }, value: truncate(c.value, 150) };
}

/** A select input (block id = action id unless given); `dispatch` makes a pick update the dialog. */
function select(opts: {
  blockId: string;
  actionId?: string;
  label: string;
  placeholder: string;
  choices: Choice[];
  selected?: string;
  optional?: boolean;
  hint?: string;
  dispatch?: boolean;
}): KnownBlock {
  const options = opts.choices.slice(0, 100).map(option);
  const initial = options.find((o) => o.value === opts.selected);
  return {
    type: 'input',
    block_id: opts.blockId,
    ...(opts.dispatch ? { dispatch_action: true } : {}),
    ...(opts.optional ? { optional: true } : {}),
    label: { type: 'plain_text', text: opts.label },
    ...(opts.hint ? { hint: { type: 'plain_text', text: opts.hint } } : {}),
    element: {
      type: 'static_select',
      action_id: opts.actionId ?? opts.blockId,
      placeholder: { type: 'plain_text', text: opts.placeholder },
      options,
      ...(initial ? { initial_option: initial } : {}),
    },
  };
}

function note(text: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, 2000) }] };
}

function reasonInput(placeholder: string): KnownBlock {
  return {
    type: 'input',
    block_id: 'reason',
    optional: true,
    label: { type: 'plain_text', text: 'Reason' },
    element: {
      type: 'plain_text_input',
      action_id: 'reason',
      max_length: 500,
      placeholder: { type: 'plain_text', text: placeholder },
    },
  };
}

function modal(opts: {
  callbackId: string;
  title: string;
  submit: string;
  metadata: string;
  blocks: KnownBlock[];
}): View {
  return {
    type: 'modal',
    callback_id: opts.callbackId,
    title: { type: 'plain_text', text: opts.title },
    submit: { type: 'plain_text', text: opts.submit },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: truncate(opts.metadata, 3000),
    blocks: opts.blocks,
  };
}

/** The dialog behind a bare `/rollback`: service and environment, then a revision from live history. */
export function rollbackModal(opts: {
  targets: Choice[];
  selected?: string;
  revisions?: Choice[];
  note?: string;
  metadata: string;
}): View {
  const blocks: KnownBlock[] = [
    select({
      blockId: 'target',
      actionId: MODAL.rollback.targetAction,
      label: 'Service and environment',
      placeholder: 'Pick one',
      choices: opts.targets,
      ...(opts.selected ? { selected: opts.selected } : {}),
      dispatch: true,
    }),
  ];
  if (opts.revisions && opts.revisions.length > 0) {
    blocks.push(
      select({
        blockId: 'revision',
        label: 'Revision to go back to',
        placeholder: 'Previous revision',
        choices: opts.revisions,
        optional: true,
        hint: 'Leave empty for the previous revision, as kubectl rollout undo does.',
      }),
    );
  }
  blocks.push(note(opts.note ?? 'Pick a service to see its revisions.'), reasonInput('What went wrong?'));
  return modal({
    callbackId: MODAL.rollback.callbackId,
    title: 'Roll back',
    submit: 'Plan rollback',
    metadata: opts.metadata,
    blocks,
  });
}

/** The dialog behind a bare `/retract`: a service, then one of its recent releases, options and a reason. */
export function retractModal(opts: {
  services: Choice[];
  selected?: string;
  releases?: Choice[];
  replacements?: Choice[];
  note?: string;
  metadata: string;
}): View {
  const blocks: KnownBlock[] = [
    select({
      blockId: 'service',
      actionId: MODAL.retract.serviceAction,
      label: 'Service',
      placeholder: 'Pick one',
      choices: opts.services,
      ...(opts.selected ? { selected: opts.selected } : {}),
      dispatch: true,
    }),
  ];
  if (opts.releases && opts.releases.length > 0) {
    blocks.push(
      select({
        blockId: 'release',
        label: 'Release to retract',
        placeholder: 'Pick a release',
        choices: opts.releases,
      }),
    );
    if (opts.replacements && opts.replacements.length > 0) {
      blocks.push(
        select({
          blockId: 'replacement',
          label: 'Replacement',
          placeholder: 'Newest earlier release',
          choices: opts.replacements,
          optional: true,
          hint: 'Leave empty for the newest earlier release that is neither draft, pre-release nor retracted.',
        }),
      );
    }
    blocks.push({
      type: 'input',
      block_id: 'options',
      optional: true,
      label: { type: 'plain_text', text: 'Also' },
      element: {
        type: 'checkboxes',
        action_id: 'options',
        options: [
          {
            text: { type: 'plain_text', text: 'Delete its assets (cannot be undone)' },
            value: 'delete-assets',
          },
          { text: { type: 'plain_text', text: 'Roll back every environment running it' }, value: 'rollback' },
        ],
      },
    });
  }
  blocks.push(
    note(opts.note ?? 'Pick a service to see its releases.'),
    reasonInput('What is wrong with this release?'),
  );
  return modal({
    callbackId: MODAL.retract.callbackId,
    title: 'Retract a release',
    submit: 'Plan retraction',
    metadata: opts.metadata,
    blocks,
  });
}
