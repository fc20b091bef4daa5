// `certroll runs`: the runs recorded in the local journal, newest last.
import type { CommandModule } from 'yargs';
import { listRuns, journalRoot } from '../../journal/journal.js';
import { makeUi } from '../common.js';
import { renderTable } from '../output.js';

export const runsCommand: CommandModule<{}, { json: boolean; color?: boolean }> = {
  command: 'runs',
  describe: 'List past runs from the local journal (.certroll/runs)',
  builder: (y) =>
    y.option('json', { type: 'boolean', default: false, describe: 'JSON on stdout' }).option('color', { type: 'boolean', describe: 'Force colours on/off' }) as never,
  handler: async (args) => {
    const ui = makeUi(args);
    const runs = await listRuns();
    if (args.json) return ui.data(runs);
    if (!runs.length) return ui.say(`No runs recorded in ${journalRoot()}.`);
    ui.say(
      renderTable(runs, [
        { header: 'RUN', get: (r) => r.runId },
        { header: 'STATE', get: (r) => (r.state === 'succeeded' ? ui.p.green(r.state) : r.state === 'running' ? r.state : ui.p.red(r.state)) },
        { header: 'STARTED', get: (r) => r.startedAt },
        { header: 'ENDED', get: (r) => r.endedAt ?? '' },
        { header: 'STOPPED AT', get: (r) => r.stoppedAt ?? '' },
        { header: 'PLAYBOOK', get: (r) => r.playbook },
      ]),
    );
  },
};
