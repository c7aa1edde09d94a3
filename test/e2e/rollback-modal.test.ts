import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('a bare /rollback opens a dialog', () => {
  let world: World;
  let bot: RunningApp;
  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('offers services, then revisions from live history, and files the rollback picked', async () => {
    const answer = world.slack.newResponseUrl();
    const ack = await bot.client.command({
      command: '/rollback',
      text: '',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
      response_url: answer,
      trigger_id: '123.456.abc',
    });
    expect(ack.status).toBe(200);
    const opened = await waitFor(() => world.slack.views()[0], { what: 'views.open' });
    const view = opened.view as {
      callback_id: string;
      private_metadata: string;
      blocks: { block_id?: string; element?: { options?: { value: string }[] } }[];
    };
    expect(view.callback_id).toBe('rollback_modal');
    const targets = view.blocks.find((b) => b.block_id === 'target')?.element?.options?.map((o) => o.value);
    expect(targets).toEqual(['checkout-api/production', 'checkout-api/staging', 'payments/production']);

    await bot.client.viewSelect({
      user: PEOPLE.requester,
      viewId: opened.id,
      callbackId: 'rollback_modal',
      privateMetadata: view.private_metadata,
      hash: opened.hash,
      blockId: 'target',
      actionId: 'modal_rollback_target',
      value: 'checkout-api/production',
    });
    const updated = await waitFor(
      () => {
        const v = world.slack.views()[0];
        return v && v.updates > 0 ? v : undefined;
      },
      { what: 'views.update with revisions' },
    );
    const revisions = (updated.view as typeof view).blocks
      .find((b) => b.block_id === 'revision')
      ?.element?.options?.map((o) => o.value);
    expect(revisions).toEqual(['2', '1']);

    const submitted = await bot.client.viewSubmission({
      user: PEOPLE.requester,
      callbackId: 'rollback_modal',
      privateMetadata: (updated.view as typeof view).private_metadata,
      viewId: opened.id,
      values: {
        target: {
          modal_rollback_target: {
            type: 'static_select',
            selected_option: { text: { type: 'plain_text', text: 'x' }, value: 'checkout-api/production' },
          },
        },
        revision: {
          revision: {
            type: 'static_select',
            selected_option: { text: { type: 'plain_text', text: '1' }, value: '1' },
          },
        },
        reason: { reason: { type: 'plain_text_input', value: 'picked in the dialog' } },
      },
    });
    expect(submitted.status).toBe(200);
    const filed = await waitFor(
      () => world.slack.responses(answer).find((r) => /Filed/.test(JSON.stringify(r.body))),
      { what: 'filed answer' },
    );
    expect(JSON.stringify(filed.body)).toMatch(/from revision 3 to revision 1/);
    const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
      what: 'card',
    });
    expect(JSON.stringify(card.blocks)).toContain('picked in the dialog');
  });

  it('submitting without a service is refused in the dialog itself', async () => {
    const res = await bot.client.viewSubmission({
      user: PEOPLE.requester,
      callbackId: 'rollback_modal',
      privateMetadata: JSON.stringify({ channel: PEOPLE.checkout }),
      values: { target: { modal_rollback_target: { type: 'static_select', selected_option: null } } },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      response_action: 'errors',
      errors: { target: 'Pick a service and environment.' },
    });
  });
});
