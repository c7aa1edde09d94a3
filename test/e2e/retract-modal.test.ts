import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signSlackRequest } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, SIGNING_SECRET, type RunningApp, type World } from '../kit/world.js';
import { cardMatching, seedReleases } from './retract-kit.js';

/** A static_select picked inside a modal: a block_actions payload with the view, as Slack sends it. */
async function pickInModal(
  bot: RunningApp,
  view: { id: string; hash: string; view: Record<string, unknown> },
  value: string,
) {
  const payload = {
    type: 'block_actions',
    user: { id: PEOPLE.requester, username: 'requester', name: 'requester', team_id: 'T0000TEST' },
    api_app_id: 'A0000APP',
    token: 'verification-token-unused',
    container: { type: 'view', view_id: view.id },
    trigger_id: `${Date.now()}.000001.abcdef`,
    team: { id: 'T0000TEST', domain: 'backout-test' },
    view: {
      id: view.id,
      team_id: 'T0000TEST',
      type: 'modal',
      callback_id: view.view.callback_id,
      private_metadata: view.view.private_metadata,
      hash: view.hash,
      blocks: view.view.blocks,
      state: { values: {} },
    },
    actions: [
      {
        type: 'static_select',
        action_id: 'modal_retract_service',
        block_id: 'service',
        selected_option: { text: { type: 'plain_text', text: value }, value },
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return bot.client.raw(body, 'application/x-www-form-urlencoded', {
    ...signSlackRequest(SIGNING_SECRET, body),
  });
}

describe('a bare /retract opens a dialog: pick a service, then one of its recent releases', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    seedReleases(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('lists services with a repo, then their releases with flags, and files the retraction picked', async () => {
    const responseUrl = world.slack.newResponseUrl();
    await bot.client.command({
      command: '/retract',
      text: '',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
      response_url: responseUrl,
    });
    const opened = await waitFor(() => world.slack.views()[0], { what: 'the dialog' });
    const services = JSON.stringify(opened.view.blocks);
    expect(services).toContain('checkout-api · acme/checkout');
    expect(services).not.toContain('payments');

    await pickInModal(bot, opened, 'checkout-api');
    const updated = await waitFor(
      () => world.slack.views().find((v) => v.id === opened.id && v.updates > 0),
      { what: 'the dialog to list releases' },
    );
    const listed = JSON.stringify(updated.view.blocks);
    expect(listed).toMatch(/v1\.4\.2 · latest · 24h old/);
    expect(listed).toContain('Leave empty for the newest earlier release');
    expect(listed).toContain('Roll back every environment running it');

    await bot.client.viewSubmission({
      user: PEOPLE.requester,
      callbackId: 'retract_modal',
      viewId: opened.id,
      privateMetadata: String(updated.view.private_metadata),
      values: {
        service: {
          modal_retract_service: { type: 'static_select', selected_option: { value: 'checkout-api' } },
        },
        release: { release: { type: 'static_select', selected_option: { value: 'v1.4.2' } } },
        replacement: { replacement: { type: 'static_select', selected_option: { value: 'v1.4.0' } } },
        options: { options: { type: 'checkboxes', selected_options: [] } },
        reason: { reason: { type: 'plain_text_input', value: 'picked in the dialog' } },
      },
    });
    const answer = await waitFor(() => world.slack.responses(responseUrl)[0], { what: 'the answer' });
    expect(String(answer.body.text)).toMatch(/Filed `rt-[a-z0-9]{8}`/);
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2; v1\.4\.0 becomes latest/);
    expect(JSON.stringify(card.blocks)).toContain('*Replacement* v1.4.0 (named with --replacement)');
    expect(JSON.stringify(card.blocks)).toContain('picked in the dialog');
  });
});
