import type { Dialog, DialogValues } from '../src/slack/dialogs.js';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import type { Config } from '../src/config/model.js';
import { formatDuration } from '../src/config/duration.js';
import { asBackoutError } from '../src/errors.js';
import type { SyncOwners } from '../src/integrations/kubernetes/owners.js';
import type { Deployments } from '../src/integrations/kubernetes/types.js';
import type { Logger } from '../src/observability/logger.js';
import type { RequestFlow } from '../src/requests/flow.js';
import { renderError } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import { MODAL, rollbackModal, type Choice } from '../src/slack/modals.js';
import type { Responder } from '../src/slack/respond.js';
import { requestRollback, resolve } from './rollback.js';
import { answerDialog, encodeModalPlace, modalInvocation, type Invocation } from './shared.js';

const submissionSchema = z.object({
  target: z.object({
    [MODAL.rollback.targetAction]: z.object({ selected_option: z.object({ value: z.string() }).nullish() }),
  }),
  revision: z
    .object({ revision: z.object({ selected_option: z.object({ value: z.string() }).nullish() }) })
    .optional(),
  reason: z.object({ reason: z.object({ value: z.string().nullish() }) }).optional(),
});

/** The dialog behind a bare `/rollback`: pick service and environment, then a revision from live history. */
export class RollbackModal implements Dialog {
  readonly name = 'rollback';
  readonly callbackId = MODAL.rollback.callbackId;
  readonly pickAction = MODAL.rollback.targetAction;

  constructor(
    private readonly deps: {
      config: Config;
      deployments: Deployments;
      owners: SyncOwners;
      directory: Directory;
      flow: RequestFlow;
      responder: Responder;
      views: WebClient['views'];
      log: Logger;
    },
  ) {}

  private targets(): Choice[] {
    const out: Choice[] = [];
    for (const s of this.deps.config.services.values()) {
      for (const e of s.environments.values())
        out.push({ value: `${s.name}/${e.name}`, label: `${s.name} · ${e.name}` });
    }
    return out;
  }

  async openRollbackModal(triggerId: string, inv: Invocation): Promise<void> {
    const metadata = encodeModalPlace(inv);
    await this.deps.views.open({
      trigger_id: triggerId,
      view: rollbackModal({ targets: this.targets(), metadata }),
    });
  }

  /** A service was picked: show its revisions from live history. */
  async picked(viewId: string, hash: string | undefined, metadata: string, value: string): Promise<void> {
    const [service = '', env = ''] = value.split('/');
    let revisions: Choice[] = [];
    let note: string;
    try {
      const { env: environment } = resolve({ service, env }, this.deps.config);
      const history = await this.deps.deployments.history(environment.kubernetes);
      const now = Date.now();
      revisions = history.revisions
        .filter((r) => !r.current)
        .map((r) => ({
          value: String(r.revision),
          label: `${r.revision} · ${r.images.map((i) => i.image.split('/').pop()).join(', ')}${r.createdAt ? ` · ${formatDuration(now - Date.parse(r.createdAt))} old` : ''}`,
        }));
      const current = history.revisions.find((r) => r.current);
      note = current
        ? `Now running revision ${current.revision}: ${current.images.map((i) => `\`${i.image}\``).join(', ')}.`
        : 'No revision matches the running template.';
    } catch (err) {
      note = `:warning: ${renderError(asBackoutError(err)).text}`;
    }
    await this.deps.views.update({
      view_id: viewId,
      ...(hash ? { hash } : {}),
      view: rollbackModal({ targets: this.targets(), selected: value, revisions, note, metadata }),
    });
  }

  missing(values: DialogValues): Record<string, string> | undefined {
    const picked = values.target?.[MODAL.rollback.targetAction]?.selected_option?.value;
    return picked ? undefined : { target: 'Pick a service and environment.' };
  }

  async submitted(user: string, metadata: string, values: unknown): Promise<void> {
    const parsed = submissionSchema.parse(values);
    const [service = '', env = ''] = (
      parsed.target[MODAL.rollback.targetAction].selected_option?.value ?? ''
    ).split('/');
    const revision = parsed.revision?.revision.selected_option?.value;
    const reason = parsed.reason?.reason.value?.trim();
    const inv = modalInvocation(user, metadata);
    await answerDialog(inv, this.deps.responder, () =>
      requestRollback(
        { service, env, ...(revision ? { to: Number(revision) } : {}), ...(reason ? { reason } : {}) },
        inv,
        this.deps,
      ),
    );
  }
}
