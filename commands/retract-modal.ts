import type { Dialog, DialogValues } from '../src/slack/dialogs.js';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { formatDuration } from '../src/config/duration.js';
import { asBackoutError } from '../src/errors.js';
import { isRetracted } from '../src/integrations/github/banner.js';
import { whyNotReplacement } from '../src/integrations/github/selection.js';
import type { Logger } from '../src/observability/logger.js';
import { renderError } from '../src/slack/cards.js';
import { MODAL, retractModal, type Choice } from '../src/slack/modals.js';
import type { Responder } from '../src/slack/respond.js';
import { planRetraction, resolveReleaseService, type RetractDeps } from './retract-plan.js';
import { answerDialog, encodeModalPlace, modalInvocation, type Invocation } from './shared.js';

const selected = z.object({ selected_option: z.object({ value: z.string() }).nullish() });

const submissionSchema = z.object({
  service: z.object({ [MODAL.retract.serviceAction]: selected }),
  release: z.object({ release: selected }).optional(),
  replacement: z.object({ replacement: selected }).optional(),
  options: z
    .object({ options: z.object({ selected_options: z.array(z.object({ value: z.string() })).nullish() }) })
    .optional(),
  reason: z.object({ reason: z.object({ value: z.string().nullish() }) }).optional(),
});

/** The dialog behind a bare `/retract`: pick a service, then one of its recent releases. */
export class RetractModal implements Dialog {
  readonly name = 'retract';
  readonly callbackId = MODAL.retract.callbackId;
  readonly pickAction = MODAL.retract.serviceAction;

  constructor(
    private readonly deps: RetractDeps & {
      responder: Responder;
      views: WebClient['views'];
      log: Logger;
    },
  ) {}

  private services(): Choice[] {
    return [...this.deps.config.services.values()]
      .filter((s) => s.github)
      .map((s) => ({ value: s.name, label: `${s.name} · ${s.github?.fullName ?? ''}` }));
  }

  async openRetractModal(triggerId: string, inv: Invocation): Promise<void> {
    const metadata = encodeModalPlace(inv);
    const services = this.services();
    await this.deps.views.open({
      trigger_id: triggerId,
      view: retractModal({
        services,
        metadata,
        ...(services.length === 0
          ? { note: 'No service in the config names a GitHub repo (`github: { repo: owner/name }`).' }
          : {}),
      }),
    });
  }

  /** A service was picked: list its recent releases from GitHub. */
  async picked(viewId: string, hash: string | undefined, metadata: string, value: string): Promise<void> {
    let releases: Choice[] = [];
    let replacements: Choice[] = [];
    let note: string;
    try {
      const { repo } = resolveReleaseService(this.deps.config, value);
      const [recent, latest] = await Promise.all([
        this.deps.releases.recent(repo, 25),
        this.deps.releases.latest(repo),
      ]);
      const now = Date.now();
      const published = recent.filter((r) => !r.draft);
      releases = published.map((r) => {
        const flags = [
          r.id === latest?.id ? 'latest' : undefined,
          r.prerelease ? 'pre-release' : undefined,
          isRetracted(r.body) ? 'retracted' : undefined,
        ].filter((f) => f !== undefined);
        return {
          value: r.tag,
          label: `${r.tag}${flags.length ? ` · ${flags.join(', ')}` : ''} · ${formatDuration(now - Date.parse(r.createdAt))} old`,
        };
      });
      replacements = published
        .filter((r) => whyNotReplacement(r) === undefined)
        .map((r) => ({ value: r.tag, label: r.tag }));
      note = published.length
        ? `The ${published.length} most recent published releases of \`${repo.fullName}\`${latest ? `; latest is ${latest.tag}` : ''}.`
        : `\`${repo.fullName}\` has no published releases.`;
    } catch (err) {
      note = `:warning: ${renderError(asBackoutError(err)).text}`;
    }
    await this.deps.views.update({
      view_id: viewId,
      ...(hash ? { hash } : {}),
      view: retractModal({
        services: this.services(),
        selected: value,
        releases,
        replacements,
        note,
        metadata,
      }),
    });
  }

  missing(values: DialogValues): Record<string, string> | undefined {
    const service = values.service?.[MODAL.retract.serviceAction]?.selected_option?.value;
    const release = values.release?.release?.selected_option?.value;
    if (service && release) return undefined;
    return !service
      ? { service: 'Pick a service.' }
      : values.release
        ? { release: 'Pick a release.' }
        : { service: 'Wait for its releases to load, then pick one.' };
  }

  async submitted(user: string, metadata: string, values: unknown): Promise<void> {
    const parsed = submissionSchema.parse(values);
    const service = parsed.service[MODAL.retract.serviceAction].selected_option?.value ?? '';
    const tag = parsed.release?.release.selected_option?.value ?? '';
    const replacement = parsed.replacement?.replacement.selected_option?.value;
    const options = new Set((parsed.options?.options.selected_options ?? []).map((o) => o.value));
    const reason = parsed.reason?.reason.value?.trim();
    const inv = modalInvocation(user, metadata);
    await answerDialog(inv, this.deps.responder, () =>
      planRetraction(
        {
          service,
          tag,
          ...(reason ? { reason } : {}),
          ...(replacement && replacement !== tag ? { replacement } : {}),
          deleteAssets: options.has('delete-assets'),
          rollback: options.has('rollback'),
        },
        inv,
        this.deps,
      ),
    );
  }
}
