#!/usr/bin/env node
// The `titan` CLI. Every command takes --config and --json; any failure is one line on stderr
// and exit code 1.
import { Client, Connection } from '@temporalio/client';
import { Command, CommanderError, Option } from 'commander';
import { backupNow, listBackups, verifyBackup } from './cli/backup-commands';
import { codecServerCommand, DEFAULT_CODEC_PORT, DEFAULT_UI_ORIGIN } from './cli/codec-server-command';
import { configStatus, resyncCommand, rollbackCommand } from './cli/config-commands';
import { drillCommand } from './cli/drill-commands';
import { describeError, printResult } from './cli/output';
import { logStatus, resumeLogsCommand } from './cli/log-commands';
import { moduleStatus, recordModules, restoreModulesCommand } from './cli/module-commands';
import { recoverCommand, reportCommand, signOffCommand, statusCommand } from './cli/recovery-commands';
import { workerPolicy } from './cli/start-workflow';
import { restoreCommand } from './cli/restore-command';
import { applyCommand, listCommand } from './cli/schedule-commands';
import { applySearchAttributes } from './cli/search-attributes';
import { temporalSettings } from './connection';
import { buildDataConverter } from './deps';
import { loadEnvironment, type LoadedEnvironment } from './load-environment';
import { STAGES, type StageName } from './lib/config';
import { DECISIONS, type Decision } from './lib/recovery-report';

interface Globals { config?: string; json: boolean; waitForWorker: boolean }

/**
 * Runs `fn` with a Temporal client, closing the connection afterwards. With an environment, the
 * client encodes and decodes payloads with its keys (also those of the schedules it writes).
 */
async function withTemporal<T>(loaded: LoadedEnvironment | undefined, fn: (client: Client) => Promise<T>): Promise<T> {
  const { connectionOptions, namespace } = temporalSettings();
  const dataConverter = loaded && buildDataConverter(loaded);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, connectTimeout: '5s' });
  } catch {
    // The SDK says "Failed to connect before the deadline": name the address and what to check.
    throw new Error(`cannot reach Temporal at ${connectionOptions.address} (is the stack up? npm run stack -- status)`);
  }
  try {
    return await fn(new Client({ connection, namespace, dataConverter }));
  } finally {
    await connection.close();
  }
}

/** Wraps a command: loads the environment file first (bad files fail before any I/O). */
function action<A extends unknown[]>(program: Command, run: (g: Globals & { loaded: ReturnType<typeof loadEnvironment> }, ...args: A) => Promise<unknown>) {
  return async (...args: A) => {
    const g = program.opts<Globals>();
    workerPolicy.waitForWorker = g.waitForWorker;
    await run({ ...g, loaded: loadEnvironment(g.config) }, ...args);
  };
}

function buildProgram(): Command {
  const program = new Command('titan')
    .description('Titan Recovery: backups and recoveries of Titan, run as Temporal workflows')
    .option('-c, --config <file>', 'environment file (default: $TITAN_CONFIG or titan.yaml)')
    .option('--json', 'machine-readable output', false)
    .option('--wait-for-worker', 'start workflows even when no worker polls the task queue, and wait for one (default: refuse within seconds)', false)
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const redisOpt = () => new Option('--redis <name>', 'Redis instance from the environment file').default('main');

  program.command('backup')
    .description('take a Redis backup now, wait for it, print its id')
    .addOption(redisOpt())
    .addOption(new Option('--class <class>', 'retention class').choices(['hourly', 'daily']).default('daily'))
    .option('--from <replica>', 'stream the snapshot from this replica of --redis, so the primary never forks')
    .option('--no-wait', 'print the workflow id and return')
    .action(action(program, (g, o: { redis: string; class: 'hourly' | 'daily'; from?: string; wait: boolean }) =>
      withTemporal(g.loaded, (client) => backupNow(client, g.loaded, { redis: o.redis, retentionClass: o.class, from: o.from, json: g.json, wait: o.wait }))));

  const backups = program.command('backups').description('inspect stored backups');
  backups.command('list')
    .description('backups in every location: validity, size, age, locations')
    .addOption(redisOpt())
    .action(action(program, (g, o: { redis: string }) => listBackups(g.loaded, { redis: o.redis, json: g.json })));
  backups.command('verify <id>')
    .description('stream a backup from every location and check it against its manifest')
    .addOption(redisOpt())
    .action(action(program, async (g, id: string, o: { redis: string }) => {
      if (!(await verifyBackup(g.loaded, { redis: o.redis, id, json: g.json }))) process.exitCode = 2;
    }));

  program.command('restore')
    .description('restore Redis from the latest valid backup (or a chosen one), verify it, roll back on failure')
    .addOption(redisOpt())
    .option('--backup <id>', 'restore this backup instead of the latest valid one')
    .option('--before <time>', 'the latest valid backup taken before this time (ISO 8601)')
    .option('--target <name>', 'restore into this Redis instance instead (e.g. a drill instance); production is not touched')
    .option('-y, --yes', 'do not ask for confirmation', false)
    .action(action(program, (g, o: { redis: string; backup?: string; before?: string; target?: string; yes: boolean }) =>
      withTemporal(g.loaded, (client) => restoreCommand(client, g.loaded, { redis: o.redis, backupId: o.backup, before: o.before, target: o.target, yes: o.yes, json: g.json }))));

  const modules = program.command('modules').description("Titan's modules: the compose file's services or the Kubernetes workloads of the environment file");
  modules.command('status')
    .description('every module: healthy, or why it needs a redeploy (missing, exited, restarting, unhealthy, image or config differs); exit 2 if any does')
    .argument('[services...]', 'only these modules')
    .action(action(program, async (g, services: string[]) => {
      if (!(await moduleStatus(g.loaded, { services, json: g.json }))) process.exitCode = 2;
    }));
  modules.command('restore')
    .description('redeploy failed modules from the private registry in dependency order, verify them, roll back a module that fails')
    .argument('[services...]', 'only these modules')
    .action(action(program, (g, services: string[]) => withTemporal(g.loaded, (client) => restoreModulesCommand(client, g.loaded, { services, json: g.json }))));
  modules.command('record')
    .description('modules on Kubernetes: record the healthy workloads (spec and image digests) as their last known good')
    .argument('[services...]', 'only these modules')
    .action(action(program, (g, services: string[]) => recordModules(g.loaded, { services, json: g.json })));

  const config = program.command('config').description("Titan's configuration in Git: drift, re-sync, rollback");
  config.command('status')
    .description('the latest valid commit, the applied one, and every key or file that differs (exit 2 if any)')
    .action(action(program, async (g) => {
      if (!(await configStatus(g.loaded, g.json))) process.exitCode = 2;
    }));
  config.command('resync')
    .description('apply the latest valid commit (keys, files, module restarts, scripts) and verify it')
    .action(action(program, (g) => withTemporal(g.loaded, (client) => resyncCommand(client, g.loaded, { json: g.json }))));
  config.command('rollback')
    .description('re-apply the previously applied commit, or --to a given one')
    .option('--to <commit>', 'the full id of the commit to re-apply')
    .action(action(program, (g, o: { to?: string }) => withTemporal(g.loaded, (client) => rollbackCommand(client, g.loaded, { to: o.to, json: g.json }))));

  const logs = program.command('logs').description("the modules' logs in the central log store: gaps, resumption");
  logs.command('status')
    .description('per module: the checkpoint, and lines missing or duplicated in the store over --since (exit 2 if any, or if the store keeps logs too briefly)')
    .argument('[modules...]', 'only these modules')
    .option('--since <duration>', 'how far back to check, e.g. 30m, 6h, 2d', '1h')
    .action(action(program, async (g, modules: string[], o: { since: string }) => {
      if (!(await logStatus(g.loaded, { modules, since: o.since, json: g.json }))) process.exitCode = 2;
    }));
  logs.command('resume')
    .description("pause the shipping schedule, backfill each module from its checkpoint, write a canary, verify nothing was lost, resume the schedule")
    .argument('[modules...]', 'only these modules')
    .option('--since <time>', 'backfill and verify from this time (ISO 8601) instead of the checkpoint')
    .action(action(program, (g, modules: string[], o: { since?: string }) => withTemporal(g.loaded, (client) => resumeLogsCommand(client, g.loaded, { modules, since: o.since, json: g.json }))));


  program.command('recover')
    .description('start the full-disaster recovery (Redis → modules → config → logs, each signed off); follow it until it waits for a sign-off')
    .option('--incident-at <time>', 'when the disaster happened (ISO 8601): restore the latest valid backup before it; the RPO is counted to it')
    .action(action(program, (g, o: { incidentAt?: string }) => withTemporal(g.loaded, (client) => recoverCommand(client, g.loaded, { incidentAt: o.incidentAt, json: g.json }))));
  program.command('status')
    .description('the recovery: its stages, attempts, sign-offs, and what it waits for from whom')
    .argument('[id]', 'workflow id (default: titan-<environment>-recovery)')
    .action(action(program, (g, id?: string) => withTemporal(g.loaded, (client) => statusCommand(client, g.loaded, { id, json: g.json }))));
  program.command('sign-off')
    .description('approve, reject or retry the stage the recovery waits on (refused unless you are one of its approvers)')
    .argument('[id]', 'workflow id (default: titan-<environment>-recovery)')
    .addOption(new Option('--stage <stage>', 'the stage waiting for sign-off').choices(STAGES).makeOptionMandatory())
    .option('--approve', 'the stage is verified: go on')
    .option('--reject', 'stop the recovery here (after a failure: abort it)')
    .option('--retry', 'run the stage again')
    .requiredOption('--by <who>', 'who signs off (an approver for the stage in the environment file)')
    .option('--comment <text>', 'why, for the report')
    .action(action(program, (g, id: string | undefined, o: { stage: StageName; by: string; comment?: string } & Partial<Record<Decision, boolean>>) => {
      const chosen = DECISIONS.filter((d) => o[d]);
      if (chosen.length !== 1) throw new Error('give exactly one of --approve, --reject, --retry');
      return withTemporal(g.loaded, (client) => signOffCommand(client, g.loaded, { id, stage: o.stage, decision: chosen[0]!, by: o.by, comment: o.comment, json: g.json }));
    }));
  program.command('report')
    .description('the stored report of a recovery (Markdown, or JSON with --json): timeline, RTO, RPO, sign-offs, problems')
    .argument('[id]', 'workflow id (default: titan-<environment>-recovery)')
    .option('--run <runId>', 'a given run (default: the newest stored)')
    .action(action(program, (g, id: string | undefined, o: { run?: string }) => reportCommand(g.loaded, { id, runId: o.run, json: g.json })));

  program.command('drill')
    .description('a DR drill: the full-disaster chain against the sandbox targets of recovery.drill, signed off automatically (or by people), the sandbox always removed; prints the measured RTO')
    .option('--wait-for-sign-off', 'wait for people to sign each stage off (follow until the first wait)', false)
    .action(action(program, (g, o: { waitForSignOff: boolean }) => withTemporal(g.loaded, (client) => drillCommand(client, g.loaded, { waitForSignOff: o.waitForSignOff, json: g.json }))));

  const schedules = program.command('schedules').description('backup, log-shipping and drill schedules on the Temporal server');
  for (const [name, desc, run] of [
    ['apply', 'create or update the schedules of the environment file (and delete stale ones)', applyCommand],
    ['list', "show Titan's schedules", listCommand],
  ] as const) {
    schedules.command(name).description(desc).action(action(program, (g) => withTemporal(g.loaded, (client) => run(client, g.loaded, g.json))));
  }

  program.command('codec-server')
    .description("serve the environment's payload codec on 127.0.0.1 for the Temporal Web UI and CLI (POST /encode, /decode); a bearer token from $TITAN_CODEC_TOKEN if set")
    .option('--port <port>', 'TCP port on 127.0.0.1 (default: $TITAN_CODEC_PORT or 8235)', process.env.TITAN_CODEC_PORT || String(DEFAULT_CODEC_PORT))
    .option('--ui-origin <url>', 'the Web UI origin CORS lets in (default: $TITAN_CODEC_UI_ORIGIN or http://127.0.0.1:8233)', process.env.TITAN_CODEC_UI_ORIGIN || DEFAULT_UI_ORIGIN)
    .action(action(program, (g, o: { port: string; uiOrigin: string }) => codecServerCommand(g.loaded, { port: Number(o.port), uiOrigin: o.uiOrigin })));

  program.command('search-attributes').description("Titan's search attributes on the Temporal namespace")
    .command('apply')
    .description('register the ones the namespace lacks (self-hosted Temporal; the local stack registers them itself)')
    .action(async () => {
      const { json } = program.opts<Globals>();
      const r = await withTemporal(undefined, applySearchAttributes);
      printResult(json, r, () => [...r.added.map((n) => `added ${n}`), ...r.present.map((n) => `present ${n}`)].join('\n'));
    });
  return program;
}

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`titan: ${describeError(err)}\n`);
  process.exit(1);
});
