// Temporal connection settings, following @temporalio/envconfig: TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* and the TOML profile, all optional.
import { loadClientConnectConfig } from '@temporalio/envconfig';

export const DEFAULT_ADDRESS = '127.0.0.1:7233';

export function temporalSettings() {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return {
    connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? DEFAULT_ADDRESS },
    namespace: namespace ?? 'default',
  };
}
