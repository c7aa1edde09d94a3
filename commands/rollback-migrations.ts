import type { DeploymentHistory } from '../src/integrations/kubernetes/types.js';
import { esc } from '../src/slack/cards.js';

/** A pod-template annotation marking a revision that ran a data migration the old code cannot undo. */
export const IRREVERSIBLE_MIGRATION = 'backout.dev/irreversible-migration';

export interface MigrationMark {
  revision: number;
  /** The annotation's text: what the migration did, often with the compensation runbook's URL. */
  note: string;
  runbook?: string;
}

const URL_IN_NOTE = /https?:\/\/[^\s<>|"']+/;

/**
 * The irreversible migrations a rollback to `target` would cross: every revision newer than the
 * target (the current template included) whose pod template carries the marker.
 */
export function migrationsCrossed(history: DeploymentHistory, target: number): MigrationMark[] {
  const marks = new Map<number, MigrationMark>();
  const consider = (revision: number, annotations: Record<string, string> | undefined) => {
    const note = annotations?.[IRREVERSIBLE_MIGRATION]?.trim();
    if (revision <= target || note === undefined || marks.has(revision)) return;
    const runbook = URL_IN_NOTE.exec(note)?.[0];
    marks.set(revision, {
      revision,
      note: note || 'irreversible migration',
      ...(runbook ? { runbook } : {}),
    });
  };
  for (const r of history.revisions) consider(r.revision, r.template.metadata?.annotations);
  consider(history.deployment.revision, history.deployment.template.metadata?.annotations);
  return [...marks.values()].sort((a, b) => b.revision - a.revision);
}

/** One line per migration, for cards and refusals: the note (escaped) and the runbook as a link. */
export function migrationLines(marks: MigrationMark[]): string[] {
  return marks.map(
    (m) =>
      `:warning: revision ${m.revision} ran an irreversible migration: ${esc(m.note.slice(0, 500))}${m.runbook ? ` — compensation runbook: <${m.runbook}|${esc(m.runbook.slice(0, 80))}>` : ''}`,
  );
}
