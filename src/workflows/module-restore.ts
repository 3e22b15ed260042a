// Recovery plan §2 (modules): identify failed modules → stop them → redeploy from the private
// registry → verify. Images are pulled before anything is stopped, so a registry problem leaves
// running modules untouched; modules start in dependency waves; a module that fails verification
// is rolled back to the image it ran before.
import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import type { ModuleStatus } from '../lib/module-state';
import { ErrorType } from '../lib/errors';
import type { HostRoute } from '../lib/hosts';
import { routesOf, runOnHosts } from './host-wait';
import { type Steps, stepProgress } from './step-progress';
import { failureReason, onHost } from './steps';

export interface RestoreModulesInput {
  /** Only these modules (default: every module of the compose file). */
  services?: string[];
  /** The host whose Docker engine runs the modules (absent: the implicit host). */
  host?: HostRoute;
}

/** Where this run's engine steps go, and how it tells what it does. */
type On = { steps: ReturnType<typeof onHost>; details: (step: string) => void; progress: Steps };

export interface ModuleOutcome {
  service: string;
  /** Why it was redeployed. */
  reason: string;
  /** restarted: left as it was but restarted after a dependency's redeploy (depends_on restart: true). */
  action: 'redeployed' | 'rolled back' | 'restarted' | 'failed' | 'skipped';
  image: string;
  previousImageId?: string;
  containerId?: string;
  startedAt?: string;
  problems: string[];
}

export interface RestoreModulesResult {
  project: string;
  /** Modules found healthy and left alone, with their container ids. */
  untouched: { service: string; containerId?: string }[];
  waves: string[][];
  outcomes: ModuleOutcome[];
}

export async function restoreModules(input: RestoreModulesInput = {}): Promise<RestoreModulesResult> {
  const progress = stepProgress();
  return runOnHosts(routesOf(input), (details) => restore(input, { steps: onHost(input.host), details, progress }));
}

async function restore(input: RestoreModulesInput, on: On): Promise<RestoreModulesResult> {
  const runId = workflowInfo().runId;
  on.details('Identifying failed modules');
  const inv = await on.steps.quick('identify failed modules').inspectModules({ services: input.services });
  const failed = new Map<string, ModuleStatus>(inv.modules.filter((m) => m.failed).map((m) => [m.service, m]));
  const result: RestoreModulesResult = {
    project: inv.project,
    untouched: inv.modules.filter((m) => !m.failed).map((m) => ({ service: m.service, containerId: m.containerId })),
    waves: inv.waves,
    outcomes: [],
  };
  if (failed.size === 0) {
    on.details('Every module is healthy: nothing to do');
    return result;
  }

  const images = [...new Set([...failed.values()].map((m) => m.desiredImage))];
  on.progress.plan(images.length + failed.size); // each pull, then each module once it is settled
  on.details(`Pulling ${images.join(', ')} from the private registry`);
  await Promise.all(images.map((image) => on.progress.step(on.steps.long(`pull ${image}`).pullModuleImage({ image }))));

  for (const [i, wave] of inv.waves.entries()) {
    on.details(`Wave ${i + 1} of ${inv.waves.length}: redeploying **${wave.join(', ')}**`);
    const outcomes = await Promise.all(wave.map((service) => {
      // A module whose dependency could not be brought back would only fail the same way.
      const blocked = inv.dependsOn[service]!.filter((d) => result.outcomes.some((o) => o.service === d && ['failed', 'skipped'].includes(o.action)));
      const m = failed.get(service)!;
      return on.progress.step(Promise.resolve(blocked.length
        ? { service, reason: `${m.state}: ${m.reason}`, action: 'skipped' as const, image: m.desiredImage, previousImageId: m.imageId, problems: [`not redeployed: ${blocked.join(', ')} failed`] }
        : redeploy(m, runId, on)));
    }));
    result.outcomes.push(...outcomes);
  }
  if (patched('restart-dependents')) result.outcomes.push(...await restartDependents(inv.restartedWith ?? {}, result.outcomes, failed, on));
  const bad = result.outcomes.filter((o) => o.action !== 'redeployed' && o.action !== 'restarted');
  if (bad.length > 0) {
    const what = bad.map((o) => `${o.service} ${o.action} (${o.problems.join('; ')})`).join('; ');
    throw ApplicationFailure.nonRetryable(`modules not restored to their good images (the compose file's or the recorded Kubernetes spec): ${what}`, ErrorType.ModuleRestoreFailed, result);
  }
  on.details(`Redeployed and verified: ${result.outcomes.map((o) => o.service).join(', ')}`);
  return result;
}

/** compose's depends_on `restart: true`: a module not redeployed itself is restarted after its dependency was. */
async function restartDependents(restartedWith: Record<string, string[]>, outcomes: ModuleOutcome[], failed: Map<string, ModuleStatus>, on: On): Promise<ModuleOutcome[]> {
  const replaced = outcomes.filter((o) => o.action === 'redeployed' || o.action === 'rolled back').map((o) => o.service);
  const dependents = [...new Set(replaced.flatMap((s) => restartedWith[s] ?? []))].filter((d) => !failed.has(d)).sort();
  if (!dependents.length) return [];
  on.details(`Restarting **${dependents.join(', ')}** after the redeploy of what they depend on`);
  on.progress.plan(dependents.length);
  const restarted = await Promise.all(dependents.map((service) => on.progress.step((async (): Promise<ModuleOutcome | undefined> => {
    const because = replaced.filter((s) => restartedWith[s]?.includes(service));
    const outcome = { service, reason: `depends on ${because.join(', ')} with restart: true`, image: '', problems: [] as string[] };
    try {
      const c = await on.steps.long(`restart ${service}`).restartModule({ service });
      if (!c) return undefined; // no container: nothing runs that could hold on to the old dependency
      const v = await on.steps.long(`verify ${service}`).verifyModule({ service, containerId: c.containerId });
      return { ...outcome, image: c.image, containerId: c.containerId, startedAt: v.startedAt, problems: v.problems, action: v.healthy ? 'restarted' : 'failed' };
    } catch (err) {
      return { ...outcome, action: 'failed', problems: [failureReason(err)] };
    }
  })())));
  return restarted.filter((o) => o !== undefined);
}

async function redeploy(m: ModuleStatus, runId: string, on: On): Promise<ModuleOutcome> {
  const outcome: ModuleOutcome = { service: m.service, reason: `${m.state}: ${m.reason}`, action: 'redeployed', image: m.desiredImage, previousImageId: m.imageId, problems: [] };
  const deployAndVerify = async (image: string, tag: string) => {
    const containerId = await on.steps.long(`redeploy ${m.service} from ${image}`).redeployModule({ service: m.service, image, deployTag: `${runId}/${m.service}/${tag}` });
    const v = await on.steps.long(`verify ${m.service}`).verifyModule({ service: m.service, containerId });
    return { containerId, ...v };
  };
  let v = await deployAndVerify(m.desiredImage, 'deploy').catch((err) => ({ containerId: undefined, healthy: false, problems: [failureReason(err)], startedAt: undefined }));
  if (!v.healthy) {
    outcome.problems = v.problems;
    if (!m.imageId) return { ...outcome, action: 'failed' };
    v = await deployAndVerify(m.imageId, 'rollback').catch((err) => ({ containerId: undefined, healthy: false, problems: [failureReason(err)], startedAt: undefined }));
    outcome.action = v.healthy ? 'rolled back' : 'failed';
    if (!v.healthy) outcome.problems.push(`rollback to ${m.imageId}: ${v.problems.join('; ')}`);
  }
  return { ...outcome, containerId: v.containerId, startedAt: v.startedAt };
}
