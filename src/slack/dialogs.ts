import type { App, ViewStateValue } from '@slack/bolt';

export type DialogValues = Record<string, Record<string, ViewStateValue>>;

/** A dialog whose first select reshapes it (a service → its revisions or releases). */
export interface Dialog {
  /** For logs: "rollback", "retract". */
  name: string;
  callbackId: string;
  pickAction: string;
  picked(viewId: string, hash: string | undefined, metadata: string, value: string): Promise<void>;
  /** Field errors that keep the dialog open, or undefined when it can be submitted. */
  missing(values: DialogValues): Record<string, string> | undefined;
  submitted(user: string, metadata: string, values: DialogValues): Promise<void>;
}

/**
 * Wires a dialog to Bolt: a pick updates the dialog, a submission is checked (errors keep it
 * open with the field named), acknowledged, then run. Slack is acknowledged first in both.
 */
export function registerDialog(app: App, dialog: Dialog): void {
  app.action(dialog.pickAction, async ({ ack, body, action, logger }) => {
    await ack();
    if (body.type !== 'block_actions' || !body.view || action.type !== 'static_select') return;
    const value = action.selected_option?.value;
    if (!value) return;
    await dialog
      .picked(body.view.id, body.view.hash, body.view.private_metadata, value)
      .catch((err: unknown) => {
        logger.warn(`could not update the ${dialog.name} dialog: ${(err as Error).message}`);
      });
  });
  app.view(dialog.callbackId, async ({ ack, body, view, logger }) => {
    const errors = dialog.missing(view.state.values);
    if (errors) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    await ack();
    await dialog.submitted(body.user.id, view.private_metadata, view.state.values).catch((err: unknown) => {
      logger.warn(`${dialog.name} dialog submission failed: ${(err as Error).message}`);
    });
  });
}
