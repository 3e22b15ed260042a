#!/usr/bin/env node
// The `titan` CLI. Every command takes --config and --json; any failure is one line on stderr
// and exit code 1.
import { Client, Connection } from '@temporalio/client';
import { Command, CommanderError, Option } from 'commander';
import { backupNow, listBackups, verifyBackup } from './cli/backup-commands';
import { configStatus, resyncCommand, rollbackCommand } from './cli/config-commands';
import { describeError } from './cli/output';
import { logStatus, resumeLogsCommand } from './cli/log-commands';
import { moduleStatus, restoreModulesCommand } from './cli/module-commands';
import { restoreCommand } from './cli/restore-command';
import { applyCommand, listCommand } from './cli/schedule-commands';
import { temporalSettings } from './connection';
import { loadEnvironment } from './load-environment';

interface Globals { config?: string; json: boolean }

/** Runs `fn` with a Temporal client, closing the connection afterwards. */
async function withTemporal<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const { connectionOptions, namespace } = temporalSettings();
  const connection = await Connection.connect({ ...connectionOptions, connectTimeout: '5s' });
  try {
    return await fn(new Client({ connection, namespace }));
  } finally {
    await connection.close();
  }
}

/** Wraps a command: loads the environment file first (bad files fail before any I/O). */
function action<A extends unknown[]>(program: Command, run: (g: Globals & { loaded: ReturnType<typeof loadEnvironment> }, ...args: A) => Promise<unknown>) {
  return async (...args: A) => {
    const g = program.opts<Globals>();
    await run({ ...g, loaded: loadEnvironment(g.config) }, ...args);
  };
}

function buildProgram(): Command {
  const program = new Command('titan')
    .description('Titan Recovery: backups and recoveries of Titan, run as Temporal workflows')
    .option('-c, --config <file>', 'environment file (default: $TITAN_CONFIG or titan.yaml)')
    .option('--json', 'machine-readable output', false)
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const redisOpt = () => new Option('--redis <name>', 'Redis instance from the environment file').default('main');

  program.command('backup')
    .description('take a Redis backup now, wait for it, print its id')
    .addOption(redisOpt())
    .addOption(new Option('--class <class>', 'retention class').choices(['hourly', 'daily']).default('daily'))
    .option('--no-wait', 'print the workflow id and return')
    .action(action(program, (g, o: { redis: string; class: 'hourly' | 'daily'; wait: boolean }) =>
      withTemporal((client) => backupNow(client, g.loaded, { redis: o.redis, retentionClass: o.class, json: g.json, wait: o.wait }))));

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
      withTemporal((client) => restoreCommand(client, g.loaded, { redis: o.redis, backupId: o.backup, before: o.before, target: o.target, yes: o.yes, json: g.json }))));

  const modules = program.command('modules').description("Titan's Dockerized modules (the compose file of the environment file)");
  modules.command('status')
    .description('every module: healthy, or why it needs a redeploy (missing, exited, restarting, unhealthy, image or config differs); exit 2 if any does')
    .argument('[services...]', 'only these modules')
    .action(action(program, async (g, services: string[]) => {
      if (!(await moduleStatus(g.loaded, { services, json: g.json }))) process.exitCode = 2;
    }));
  modules.command('restore')
    .description('redeploy failed modules from the private registry in dependency order, verify them, roll back a module that fails')
    .argument('[services...]', 'only these modules')
    .action(action(program, (g, services: string[]) => withTemporal((client) => restoreModulesCommand(client, g.loaded, { services, json: g.json }))));

  const config = program.command('config').description("Titan's configuration in Git: drift, re-sync, rollback");
  config.command('status')
    .description('the latest valid commit, the applied one, and every key or file that differs (exit 2 if any)')
    .action(action(program, async (g) => {
      if (!(await configStatus(g.loaded, g.json))) process.exitCode = 2;
    }));
  config.command('resync')
    .description('apply the latest valid commit (keys, files, module restarts, scripts) and verify it')
    .action(action(program, (g) => withTemporal((client) => resyncCommand(client, g.loaded, { json: g.json }))));
  config.command('rollback')
    .description('re-apply the previously applied commit, or --to a given one')
    .option('--to <commit>', 'the full id of the commit to re-apply')
    .action(action(program, (g, o: { to?: string }) => withTemporal((client) => rollbackCommand(client, g.loaded, { to: o.to, json: g.json }))));

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
    .action(action(program, (g, modules: string[], o: { since?: string }) => withTemporal((client) => resumeLogsCommand(client, g.loaded, { modules, since: o.since, json: g.json }))));

  const schedules = program.command('schedules').description('backup and log-shipping schedules on the Temporal server');
  for (const [name, desc, run] of [
    ['apply', 'create or update the schedules of the environment file (and delete stale ones)', applyCommand],
    ['list', "show Titan's schedules", listCommand],
  ] as const) {
    schedules.command(name).description(desc).action(action(program, (g) => withTemporal((client) => run(client, g.loaded, g.json))));
  }
  return program;
}

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`titan: ${describeError(err)}\n`);
  process.exit(1);
});
