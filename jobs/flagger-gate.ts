import type { JobDefinition } from '../src/queue/job-definition.js';
import { esc, type CardButton } from '../src/slack/cards.js';
import type { JobDeps } from './deps.js';

/** Flagger's gate webhooks backout serves (Flagger's own hook type names). */
export type FlaggerHook = 'confirm-rollout' | 'confirm-promotion';

/** A Flagger canary waiting at one of its gates for a person's decision. */
export interface FlaggerGatePlan {
  service: string;
  environment: string;
  hook: FlaggerHook;
  /** The Canary resource. */
  canary: string;
  namespace: string;
  /** Flagger's hash of the canary's spec and tracked configs: one gate per revision. */
  checksum: string;
  /** Flagger's phase and the webhook's metadata at the first call. */
  phase: string;
  metadata: Record<string, string>;
}

const ROLL_BACK: CardButton = {
  action: 'abort',
  text: 'Roll back',
  style: 'danger',
  confirm: {
    title: 'Roll back?',
    text: "Flagger's rollback webhook answers yes from now on: Flagger routes all traffic to the primary and scales the canary down.",
    confirm: 'Roll back',
  },
};

export function describeFlaggerGate(plan: FlaggerGatePlan): string[] {
  const what =
    plan.hook === 'confirm-rollout'
      ? 'may start (confirm-rollout: the canary is scaled up and analysis begins)'
      : 'may be promoted (confirm-promotion: the primary takes the canary spec, then all traffic)';
  const lines = [
    `*Flagger canary* \`${esc(plan.namespace)}/${esc(plan.canary)}\` ${what}`,
    `*Revision* checksum \`${esc(plan.checksum.slice(0, 16))}\` · phase ${esc(plan.phase)}`,
  ];
  const meta = Object.entries(plan.metadata);
  if (meta.length > 0) lines.push(`*Analysis* ${meta.map(([k, v]) => `${esc(k)} ${esc(v)}`).join(' · ')}`);
  lines.push(
    'Approve answers Flagger 200 at its next call (Flagger asks every analysis interval); until then it waits. Roll back makes its rollback webhook answer yes.',
  );
  return lines;
}

/**
 * The job behind an approved Flagger gate does not touch the cluster: Flagger acts when its next
 * call finds the request approved. The one step records that the gate is open.
 */
export const flaggerGateJob: JobDefinition<FlaggerGatePlan, JobDeps> = {
  kind: 'flagger-gate',
  steps: [
    {
      name: 'open',
      label: 'Open the gate: Flagger gets 200 at its next call',
      dryRun: 'run',
      run: () =>
        Promise.resolve({
          detail: 'The gate is open; Flagger goes on at its next call (every analysis interval).',
        }),
    },
  ],
  describe: describeFlaggerGate,
  pendingButtons: () => [ROLL_BACK],
  buttons: (request) => (request.state === 'succeeded' ? [ROLL_BACK] : []),
};
