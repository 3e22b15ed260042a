// Failure types that retrying cannot fix: activities raise them non-retryable, workflows and the
// CLI match on these names.
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
  /** The backup's encryption key is not configured here: unreadable, not corrupt. */
  BackupKeyMissing: 'BackupKeyMissing',
  /** A Temporal payload's key (temporal.encryption) is not configured here: it cannot be decoded. */
  PayloadKeyMissing: 'PayloadKeyMissing',
  RestoreRequestInvalid: 'RestoreRequestInvalid',
  NoValidBackup: 'NoValidBackup',
  RedisStartFailed: 'RedisStartFailed',
  /** A host-bound activity reached the worker of another host (it refuses rather than touch the wrong machine). */
  WrongHost: 'WrongHost',
  RedisStopFailed: 'RedisStopFailed',
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
  /** The log store refused Titan's credentials. */
  LogStoreAuthFailed: 'LogStoreAuthFailed',
  /** The log index maps one of Titan's fields with another type. */
  LogStoreMappingConflict: 'LogStoreMappingConflict',
  RecoveryRejected: 'RecoveryRejected',
  RecoveryAborted: 'RecoveryAborted',
  SignOffRefused: 'SignOffRefused',
  DrillSandboxInUse: 'DrillSandboxInUse',
  DrillFailed: 'DrillFailed',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];
