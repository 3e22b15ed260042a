// Recovery plan §3 (configuration): identify the latest valid configuration in Git → apply it
// (Redis keys, files — those the commit dropped deleted —, restarts of the modules whose files
// changed or went, config scripts) → verify → record the files applied.
// With `to`, the same steps re-apply an earlier commit: version control is the rollback.
import { ApplicationFailure, patched, setCurrentDetails } from '@temporalio/workflow';
import type { ChosenConfig } from '../activities/config-resync';
import { ErrorType } from '../lib/errors';
import { longStep, quickStep } from './steps';

export interface ResyncConfigInput {
  /** A full commit id to apply instead of the latest valid one (rollback). */
  to?: string;
}

export interface ResyncConfigResult extends ChosenConfig {
  keys: { set: string[]; deleted: string[] };
  files: string[];
  /** Files Titan had applied that the commit no longer declares, deleted. */
  removed: string[];
  restarted: string[];
  scripts: { run: string; output: string }[];
}

export async function resyncConfig(input: ResyncConfigInput = {}): Promise<ResyncConfigResult> {
  setCurrentDetails(input.to ? `Checking commit **${input.to}**` : 'Finding the latest valid configuration');
  const chosen = await quickStep(input.to ? `check commit ${input.to}` : 'find the latest valid configuration').chooseConfig({ to: input.to });
  const commit = chosen.commit;
  const short = commit.slice(0, 12);

  setCurrentDetails(`Applying **${short}** (${chosen.subject}): Redis keys`);
  const keys = await quickStep(`apply the Redis keys of ${short}`).applyConfigKeys({ commit });
  setCurrentDetails(`Applying **${short}**: files`);
  const files = await longStep(`render the files of ${short}`).renderConfigFiles({ commit });
  let restarted: string[] = [];
  if (files.restart.length) {
    setCurrentDetails(`Applying **${short}**: restarting ${files.restart.join(', ')}`);
    restarted = await longStep(`restart ${files.restart.join(', ')}`).restartConfiguredModules({ services: files.restart });
  }
  setCurrentDetails(`Applying **${short}**: config scripts`);
  const scripts = await longStep(`run the config scripts of ${short}`).runConfigScripts({ commit });

  setCurrentDetails(`Verifying **${short}**`);
  const { drift } = await quickStep(`verify keys and files against ${short}`).checkConfig({ commit });
  if (drift.length) {
    throw ApplicationFailure.nonRetryable(`after applying ${short}, still different: ${drift.map((d) => `${d.kind} ${d.name} ${d.problem}`).join(', ')}`, ErrorType.ConfigVerificationFailed);
  }
  // Only once verified: until then a re-run still restarts the modules of the files this commit dropped.
  if (patched('record-applied-files')) await quickStep(`record the files of ${short} as applied`).recordConfigFiles({ commit });
  setCurrentDetails(`Applied and verified **${short}** (${chosen.subject})`);
  return { ...chosen, keys, files: files.written, removed: files.removed ?? [] /* absent in results of activities from before */, restarted, scripts };
}
