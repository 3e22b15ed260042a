// Recovery plan §3 (configuration): identify the latest valid configuration in Git → apply it
// (Redis keys, files — those the commit dropped deleted —, restarts of the modules whose files
// changed or went, config scripts) → verify → record the files applied.
// With `to`, the same steps re-apply an earlier commit: version control is the rollback.
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { ChosenConfig } from '../activities/config-resync';
import { ErrorType } from '../lib/errors';
import type { HostRoute } from '../lib/hosts';
import { routesOf, runOnHosts } from './host-wait';
import { stepProgress } from './step-progress';
import { onHost, quickStep } from './steps';

export interface ResyncConfigInput {
  /** A full commit id to apply instead of the latest valid one (rollback). */
  to?: string;
  /** The host of the files root (files, scripts, their check) and of the modules' engine (restarts); absent: the implicit host. */
  host?: HostRoute;
  modulesHost?: HostRoute;
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
  return runOnHosts(routesOf(input), (details) => resync(input, details));
}

async function resync(input: ResyncConfigInput, details: (step: string) => void): Promise<ResyncConfigResult> {
  const files = onHost(input.host);
  const progress = stepProgress();
  const step = progress.step;
  progress.plan(5); // choose, keys, files, scripts, verify; a restart and the record add theirs
  details(input.to ? `Checking commit **${input.to}**` : 'Finding the latest valid configuration');
  const chosen = await step(quickStep(input.to ? `check commit ${input.to}` : 'find the latest valid configuration').chooseConfig({ to: input.to }));
  const commit = chosen.commit;
  const short = commit.slice(0, 12);

  details(`Applying **${short}** (${chosen.subject}): Redis keys`);
  const keys = await step(quickStep(`apply the Redis keys of ${short}`).applyConfigKeys({ commit }));
  details(`Applying **${short}**: files`);
  const rendered = await step(files.long(`render the files of ${short}`).renderConfigFiles({ commit }));
  let restarted: string[] = [];
  if (rendered.restart.length) {
    details(`Applying **${short}**: restarting ${rendered.restart.join(', ')}`);
    progress.plan(1);
    restarted = await step(onHost(input.modulesHost).long(`restart ${rendered.restart.join(', ')}`).restartConfiguredModules({ services: rendered.restart }));
  }
  details(`Applying **${short}**: config scripts`);
  const scripts = await step(files.long(`run the config scripts of ${short}`).runConfigScripts({ commit }));

  details(`Verifying **${short}**`);
  const { drift } = await step(files.quick(`verify keys and files against ${short}`).checkConfig({ commit }));
  if (drift.length) {
    throw ApplicationFailure.nonRetryable(`after applying ${short}, still different: ${drift.map((d) => `${d.kind} ${d.name} ${d.problem}`).join(', ')}`, ErrorType.ConfigVerificationFailed);
  }
  // Only once verified: until then a re-run still restarts the modules of the files this commit dropped.
  if (patched('record-applied-files')) {
    progress.plan(1);
    await step(quickStep(`record the files of ${short} as applied`).recordConfigFiles({ commit }));
  }
  details(`Applied and verified **${short}** (${chosen.subject})`);
  return { ...chosen, keys, files: rendered.written, removed: rendered.removed ?? [] /* absent in results of activities from before */, restarted, scripts };
}
