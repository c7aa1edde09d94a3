import type { KnownBlock, PlainTextOption, View } from '@slack/types';
import { truncate } from './cards.js';

/** Modal views, built as pure functions within Slack's limits (100 options, 75-char labels, 3000-char metadata). */
export const MODAL = {
  rollback: { callbackId: 'rollback_modal', targetAction: 'modal_rollback_target' },
} as const;

export interface Choice {
  value: string;
  label: string;
}

function option(c: Choice): PlainTextOption {
  return { text: { type: 'plain_text', text: truncate(c.label, 75) }, value: truncate(c.value, 150) };
}

export function rollbackModal(opts: {
  targets: Choice[];
  selected?: string;
  revisions?: Choice[];
  note?: string;
  metadata: string;
}): View {
  const targets = opts.targets.slice(0, 100).map(option);
  const initial = targets.find((o) => o.value === opts.selected);
  const blocks: KnownBlock[] = [
    {
      type: 'input',
      block_id: 'target',
      dispatch_action: true,
      label: { type: 'plain_text', text: 'Service and environment' },
      element: {
        type: 'static_select',
        action_id: MODAL.rollback.targetAction,
        placeholder: { type: 'plain_text', text: 'Pick one' },
        options: targets,
        ...(initial ? { initial_option: initial } : {}),
      },
    },
  ];
  if (opts.revisions && opts.revisions.length > 0) {
    blocks.push({
      type: 'input',
      block_id: 'revision',
      optional: true,
      label: { type: 'plain_text', text: 'Revision to go back to' },
      hint: {
        type: 'plain_text',
        text: 'Leave empty for the previous revision, as kubectl rollout undo does.',
      },
      element: {
        type: 'static_select',
        action_id: 'revision',
        placeholder: { type: 'plain_text', text: 'Previous revision' },
        options: opts.revisions.slice(0, 100).map(option),
      },
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(opts.note ?? 'Pick a service to see its revisions.', 2000) }],
  });
  blocks.push({
    type: 'input',
    block_id: 'reason',
    optional: true,
    label: { type: 'plain_text', text: 'Reason' },
    element: {
      type: 'plain_text_input',
      action_id: 'reason',
      max_length: 500,
      placeholder: { type: 'plain_text', text: 'What went wrong?' },
    },
  });
  return {
    type: 'modal',
    callback_id: MODAL.rollback.callbackId,
    title: { type: 'plain_text', text: 'Roll back' },
    submit: { type: 'plain_text', text: 'Plan rollback' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: truncate(opts.metadata, 3000),
    blocks,
  };
}
