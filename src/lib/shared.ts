// Names both sides agree on: the task queue, the error types that must not be retried,
// and the search attributes registered on the server (scripts/stack.sh registers the same).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TASK_QUEUE = 'titan-recovery';

/** Failure types that retrying cannot fix; workflows and the CLI match on these names. */
export const ErrorType = {
  ConfigInvalid: 'ConfigInvalid',
  SecretMissing: 'SecretMissing',
  RedisAuthFailed: 'RedisAuthFailed',
  RedisUnknown: 'RedisUnknown',
  BucketMissing: 'BucketMissing',
  S3AccessDenied: 'S3AccessDenied',
  CorruptSnapshot: 'CorruptSnapshot',
  BackupNotFound: 'BackupNotFound',
  BackupInvalid: 'BackupInvalid',
  RestoreRequestInvalid: 'RestoreRequestInvalid',
  NoValidBackup: 'NoValidBackup',
  RedisStartFailed: 'RedisStartFailed',
  RestoreVerificationFailed: 'RestoreVerificationFailed',
  NoSpaceForRestore: 'NoSpaceForRestore',
  ModuleUnknown: 'ModuleUnknown',
  ModulesNotConfigured: 'ModulesNotConfigured',
  RegistryAuthFailed: 'RegistryAuthFailed',
  ImageNotFound: 'ImageNotFound',
  ModuleRestoreFailed: 'ModuleRestoreFailed',
  ConfigSyncNotConfigured: 'ConfigSyncNotConfigured',
  ConfigRepoUnreachable: 'ConfigRepoUnreachable',
  NoValidConfig: 'NoValidConfig',
  ConfigScriptFailed: 'ConfigScriptFailed',
  ConfigVerificationFailed: 'ConfigVerificationFailed',
  LoggingNotConfigured: 'LoggingNotConfigured',
  LogVerificationFailed: 'LogVerificationFailed',
  RecoveryRejected: 'RecoveryRejected',
  RecoveryAborted: 'RecoveryAborted',
  SignOffRefused: 'SignOffRefused',
  DrillSandboxInUse: 'DrillSandboxInUse',
  DrillFailed: 'DrillFailed',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

export const SearchKey = {
  environment: defineSearchAttributeKey('TitanEnvironment', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('TitanStage', SearchAttributeType.KEYWORD),
  kind: defineSearchAttributeKey('TitanKind', SearchAttributeType.KEYWORD),
  backupId: defineSearchAttributeKey('TitanBackupId', SearchAttributeType.KEYWORD),
};
