// `certroll runs`: the runs recorded in the local journal (the per-user state directory, and an old ./.certroll), oldest first.
import type { CommandModule } from 'yargs';
import { listRuns, journalRoot, legacyJournalRoot, type ListedRun } from '../../journal/journal.js';
import { makeUi } from '../common.js';
import { renderTable } from '../../render/text.js';
import { heads } from './heads.js';

/** Text from a journal made safe for a terminal: no control character is printed raw. */
export const clean = (s: string | undefined) => (s ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export const runsCommand: CommandModule<{}, { json: boolean; color?: boolean }> = {
  ...heads.runs,
  builder: (y) =>
    y.option('json', { type: 'boolean', default: false, describe: 'JSON on stdout' }).option('color', { type: 'boolean', describe: 'Force colours on/off' }) as never,
  handler: async (args) => {
    const ui = makeUi(args);
    const runs = await listRuns();
    const legacy = runs.filter((r) => r.legacy);
    if (args.json) return ui.data(runs);
    if (!runs.length) return ui.say(`No runs recorded in ${clean(journalRoot())}.`);
    const state = (r: ListedRun) => (r.state === 'succeeded' ? ui.p.green(r.state) : r.state === 'running' || r.state === 'planned' ? r.state : ui.p.red(r.state));
    ui.say(
      renderTable(runs, [
        { header: 'RUN', get: (r) => clean(r.runId) + (r.legacy ? ' *' : '') },
        { header: 'STATE', get: (r) => state(r) },
        { header: 'STARTED', get: (r) => clean(r.startedAt) },
        { header: 'ENDED', get: (r) => clean(r.endedAt) },
        { header: 'STOPPED AT', get: (r) => clean(r.damaged ?? r.stoppedAt) },
        { header: 'DONE BY HAND', get: (r) => clean((Array.isArray(r.skippedByOperator) ? r.skippedByOperator : []).join(', ')) },
        { header: 'PLAYBOOK', get: (r) => clean(r.kind === 'rollback' ? `rollback of ${r.rollbackOf ?? '?'}` : r.playbook) },
      ]),
    );
    ui.say(ui.p.dim(`Journal: ${clean(journalRoot())}`));
    if (legacy.length) ui.say(ui.p.dim(`* ${legacy.length} run${legacy.length > 1 ? 's' : ''} found in the old location ${clean(legacyJournalRoot() ?? '')} (still listed and resumable; new runs go to the journal above)`));
  },
};
