// Activities of the recoveryDrill workflow, registered only on the drill's worker (its deps are
// built from the sandbox environment): start the sandbox Redis — a container of the stack's Redis
// image on an empty data dir — and, for modules on Kubernetes, the sandbox namespace with a copy of
// production's last known good records; and remove everything the drill made. A container or
// namespace of the sandbox's name belonging to another drill that still runs is that drill's: it is
// neither reused nor removed. A namespace that is not labelled a drill sandbox is never touched.
import { existsSync, mkdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type Docker from 'dockerode';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DRILL_LABEL, drillEnvironment } from '../lib/drill';
import { plannedStages, recoveryRedis } from '../lib/recovery-plan';
import { ErrorType } from '../lib/errors';
import type { LoadedEnvironment } from '../load-environment';
import { type Deps, kubernetesModulesConfig } from '../deps';
import { type DrillRun, KubernetesSandbox, type KubernetesSandboxOptions, sameRun } from '../infra/kubernetes-sandbox';
import { withRedis } from '../infra/redis-control';

const START_TIMEOUT_MS = 30_000;
/** Within the activity's 2 minutes; kwok's pods go at once, so a namespace is gone in seconds. */
const NAMESPACE_DELETE_WAIT_MS = 90_000;

/** What a drill's sandbox consists of, resolved from the production environment file. */
export interface DrillSandbox {
  /** The Redis instance (by its production name) whose sandbox is started, if any stage needs one. */
  redis?: string;
  image: string;
  project?: string;
  /** Modules on Kubernetes: the sandbox namespace, and production's whose records it copies. */
  kubernetes?: KubernetesSandboxOptions;
  /** Absolute. */
  filesRoot?: string;
  autoSignOff: boolean;
}

export function drillSandbox(loaded: LoadedEnvironment): DrillSandbox {
  const d = loaded.env.recovery!.drill!;
  return {
    redis: d.redis && recoveryRedis(loaded.env),
    image: d.redis?.image ?? '',
    project: d.modules?.project,
    kubernetes: kubernetesSandbox(loaded),
    filesRoot: d.config && loaded.resolvePath(d.config.filesRoot),
    autoSignOff: d.autoSignOff,
  };
}

function kubernetesSandbox(loaded: LoadedEnvironment): KubernetesSandboxOptions | undefined {
  const k = kubernetesModulesConfig(loaded);
  const namespace = loaded.env.recovery!.drill!.modules?.kubernetes?.namespace;
  if (!k || !namespace || !plannedStages(loaded.env).includes('modules')) return undefined;
  return { connection: k, production: k.namespace, namespace, recordConfigMap: k.recordConfigMap, deleteWaitMs: NAMESPACE_DELETE_WAIT_MS };
}

/** The loaded file as the drill's worker sees it: the sandbox environment, same file, same secrets. */
export const drillLoaded = (loaded: LoadedEnvironment): LoadedEnvironment => ({ ...loaded, env: drillEnvironment(loaded.env) });

const notFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createDrillActivities(deps: Pick<Deps, 'redisTarget' | 'docker'>, sandbox: DrillSandbox) {
  const target = () => {
    const t = deps.redisTarget(sandbox.redis!);
    if (t.runAs.kind !== 'container') throw new Error('the sandbox Redis runs as a container');
    return { ...t, runAs: t.runAs, configFile: `${t.dataDir.replace(/\/+$/, '')}.conf` };
  };
  const inspect = (c: Docker.Container) => c.inspect().catch((err) => { if (notFound(err)) return undefined; throw err; });
  /** The drill a sandbox container or namespace names as its owner, if it is another one that still runs. */
  const otherRunningDrill = async (owner: string | undefined, workflowId: string): Promise<string | undefined> => {
    if (!owner || owner === workflowId) return undefined;
    try {
      return (await Context.current().client.workflow.getHandle(owner).describe()).status.name === 'RUNNING' ? owner : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };

  /** Creates and starts the sandbox Redis (idempotent for the same drill) and waits until it answers. */
  const startRedis = async (workflowId: string): Promise<void> => {
    const t = target();
    const docker = deps.docker();
    const container = docker.getContainer(t.runAs.container);
    let found = await inspect(container);
    if (found && found.Config.Labels?.[DRILL_LABEL] !== workflowId) {
      const other = await otherRunningDrill(found.Config.Labels?.[DRILL_LABEL], workflowId);
      if (other) throw ApplicationFailure.nonRetryable(`the sandbox Redis ${t.runAs.container} belongs to drill ${other}, which is still running`, ErrorType.DrillSandboxInUse);
      await container.remove({ force: true }); // left behind by a drill that ended
      found = undefined;
    }
    if (!found) {
      // Empty, owned by the image's Redis user: the restore's staging and rollback live in it too.
      rmSync(t.dataDir, { recursive: true, force: true });
      mkdirSync(t.dataDir, { recursive: true, mode: 0o700 });
      chownSync(t.dataDir, t.runAs.uid, t.runAs.gid);
      const port = new URL(t.endpoint.url).port;
      // A file, not arguments: the password must not show in the container's command line.
      writeFileSync(t.configFile, [
        `port ${port}`, 'bind 127.0.0.1', 'dir /data', 'dbfilename dump.rdb', 'save ""', `appendonly ${t.persistence === 'aof' ? 'yes' : 'no'}`,
        'enable-debug-command local', ...(t.endpoint.password ? [`requirepass ${t.endpoint.password}`] : []), '',
      ].join('\n'), { mode: 0o600 });
      chownSync(t.configFile, t.runAs.uid, t.runAs.gid);
      await docker.createContainer({
        name: t.runAs.container,
        Image: sandbox.image,
        Cmd: ['/etc/redis/redis.conf'],
        Labels: { [DRILL_LABEL]: workflowId },
        // unless-stopped: the restore's stop must not be undone by the engine.
        HostConfig: { NetworkMode: 'host', Binds: [`${t.dataDir}:/data`, `${t.configFile}:/etc/redis/redis.conf:ro`], RestartPolicy: { Name: 'unless-stopped' } },
      });
    }
    if (!(await container.inspect()).State.Running) await container.start();
    for (const end = Date.now() + START_TIMEOUT_MS; ; await sleep(200)) {
      const answer = await withRedis(t.endpoint, (r) => r.ping()).catch((err: Error) => err.message);
      if (answer === 'PONG') return;
      if (Date.now() > end) throw new Error(`the sandbox Redis ${t.runAs.container} does not answer on ${t.endpoint.address}: ${answer}`);
    }
  };

  const kube = sandbox.kubernetes && new KubernetesSandbox(sandbox.kubernetes);
  const progress = (phase: string) => Context.current().heartbeat({ phase });
  /** The drill calling: its workflow id and, from the activity's context, its run. */
  const thisRun = (workflowId: string): DrillRun => {
    const runId = Context.current().info.workflowExecution?.runId;
    if (!runId) throw new Error('the drill\'s sandbox activities run only for a drill workflow');
    return { workflowId, runId };
  };
  /** Creates the sandbox namespace with production's records; refuses a namespace that is not a drill sandbox, or another running drill's. */
  const startNamespace = async (drill: DrillRun): Promise<void> => {
    const owner = await kube!.owner();
    if (owner?.kind === 'not a sandbox') {
      throw ApplicationFailure.nonRetryable(`namespace ${kube!.namespace} exists and is not labelled a Titan drill sandbox: choose another recovery.drill.modules.kubernetes.namespace`, ErrorType.DrillSandboxInUse);
    }
    const other = owner && (await otherRunningDrill(owner.drill.workflowId, drill.workflowId));
    if (other) throw ApplicationFailure.nonRetryable(`the sandbox namespace ${kube!.namespace} belongs to drill ${other}, which is still running`, ErrorType.DrillSandboxInUse);
    await kube!.create(drill, owner, progress);
  };

  /** Deletes the sandbox namespace if it is this drill's, and waits until it is gone; what stays, and why. */
  const removeNamespace = async (drill: DrillRun, removed: string[]): Promise<string | undefined> => {
    const owner = await kube!.owner();
    if (!owner) return undefined;
    if (owner.kind === 'not a sandbox') return `namespace ${kube!.namespace} is not labelled a Titan drill sandbox: not deleted`;
    if (!sameRun(owner.drill, drill)) {
      const other = await otherRunningDrill(owner.drill.workflowId, drill.workflowId);
      return `namespace ${kube!.namespace} is the sandbox of drill ${owner.drill.workflowId} run ${owner.drill.runId}${other ? ', which is still running' : ''}: not deleted`;
    }
    const left = await kube!.deleteAndWait(progress);
    if (!left) removed.push(`namespace ${kube!.namespace}`);
    return left;
  };

  return {
    /** Starts the sandbox: Redis, and the modules namespace on Kubernetes (idempotent for the same drill). */
    async startDrillSandbox(req: { workflowId: string }): Promise<{ autoSignOff: boolean; redis?: string; namespace?: string }> {
      if (sandbox.redis) await startRedis(req.workflowId);
      if (kube) await startNamespace(thisRun(req.workflowId));
      return { autoSignOff: sandbox.autoSignOff, redis: sandbox.redis, namespace: kube?.namespace };
    },

    /** Removes the sandbox Redis (container, data dir, config file), every container of the drill's compose project, its files root. */
    async removeDrillSandbox(req: { workflowId: string }): Promise<{ removed: string[]; leftAlone?: string }> {
      const removed: string[] = [];
      const rm = (what: string, p: string) => {
        if (!existsSync(p)) return;
        rmSync(p, { recursive: true, force: true });
        removed.push(`${what} ${p}`);
      };
      if (sandbox.redis) {
        const t = target();
        const container = deps.docker().getContainer(t.runAs.container);
        const found = await inspect(container);
        const other = found && (await otherRunningDrill(found.Config.Labels?.[DRILL_LABEL], req.workflowId));
        if (other) return { removed, leftAlone: `the sandbox belongs to drill ${other}, which is still running` };
        if (found) {
          await container.remove({ force: true }).catch((err) => { if (!notFound(err)) throw err; });
          removed.push(`Redis container ${t.runAs.container}`);
        }
        rm('Redis data dir', t.dataDir);
        rm('Redis config file', t.configFile);
      }
      if (sandbox.project) {
        const docker = deps.docker();
        for (const c of await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${sandbox.project}`] } })) {
          await docker.getContainer(c.Id).remove({ force: true }).catch((err) => { if (!notFound(err)) throw err; });
          removed.push(`module container ${c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12)}`);
        }
      }
      if (sandbox.filesRoot) rm('files root', sandbox.filesRoot);
      const leftAlone = kube && (await removeNamespace(thisRun(req.workflowId), removed));
      return { removed, ...(leftAlone ? { leftAlone } : {}) };
    },
  };
}

export type DrillActivities = ReturnType<typeof createDrillActivities>;
