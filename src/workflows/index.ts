// The worker's workflowsPath: every workflow, re-exported.
export { redisBackup } from './redis-backup';
export { redisRestore } from './redis-restore';
export { restoreModules } from './module-restore';
export { resyncConfig } from './config-resync';
export { resumeLogs, shipLogs } from './log-resumption';
export { fullDisasterRecovery } from './full-disaster';
export { recoveryDrill } from './drill';
