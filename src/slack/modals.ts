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

/** The dialog behind a bare `/retract`: a service, then one of its recent releases, options and a reason. */
export function retractModal(opts: {
  services: Choice[];
  selected?: string;
  releases?: Choice[];
  replacements?: Choice[];
  note?: string;
  metadata: string;
}): View {
  const services = opts.services.slice(0, 100).map(option);
  const initial = services.find((o) => o.value === opts.selected);
  const blocks: KnownBlock[] = [
    {
      type: 'input',
      block_id: 'service',
      dispatch_action: true,
      label: { type: 'plain_text', text: 'Service' },
      element: {
        type: 'static_select',
        action_id: MODAL.retract.serviceAction,
        placeholder: { type: 'plain_text', text: 'Pick one' },
        options: services,
        ...(initial ? { initial_option: initial } : {}),
      },
    },
  ];
  if (opts.releases && opts.releases.length > 0) {
    blocks.push({
      type: 'input',
      block_id: 'release',
      label: { type: 'plain_text', text: 'Release to retract' },
      element: {
        type: 'static_select',
        action_id: 'release',
        placeholder: { type: 'plain_text', text: 'Pick a release' },
        options: opts.releases.slice(0, 100).map(option),
      },
    });
    if (opts.replacements && opts.replacements.length > 0) {
      blocks.push({
        type: 'input',
        block_id: 'replacement',
        optional: true,
        label: { type: 'plain_text', text: 'Replacement' },
        hint: {
          type: 'plain_text',
          text: 'Leave empty for the newest earlier release that is neither draft, pre-release nor retracted.',
        },
        element: {
          type: 'static_select',
          action_id: 'replacement',
          placeholder: { type: 'plain_text', text: 'Newest earlier release' },
          options: opts.replacements.slice(0, 100).map(option),
        },
      });
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
          {
            text: { type: 'plain_text', text: 'Roll back every environment running it' },
            value: 'rollback',
          },
        ],
      },
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(opts.note ?? 'Pick a service to see its releases.', 2000) }],
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
      placeholder: { type: 'plain_text', text: 'What is wrong with this release?' },
    },
  });
  return {
    type: 'modal',
    callback_id: MODAL.retract.callbackId,
    title: { type: 'plain_text', text: 'Retract a release' },
    submit: { type: 'plain_text', text: 'Plan retraction' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: truncate(opts.metadata, 3000),
    blocks,
  };
}
