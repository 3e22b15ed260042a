import assert from 'node:assert/strict';
import { DEFAULT_ADDRESS, temporalSettings } from '../../src/connection';

describe('Temporal connection settings (envconfig conventions)', () => {
  const names = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS', 'TEMPORAL_CONFIG_FILE'];
  let saved: Record<string, string | undefined>;
  beforeEach(() => {
    saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    for (const n of names) delete process.env[n];
    process.env.TEMPORAL_CONFIG_FILE = '/nonexistent/temporal.toml';
  });
  afterEach(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });

  it('defaults to the local dev server on 127.0.0.1 and the default namespace', () => {
    const s = temporalSettings();
    assert.equal(s.connectionOptions.address, DEFAULT_ADDRESS);
    assert.equal(s.namespace, 'default');
    assert.equal(s.connectionOptions.apiKey, undefined);
  });

  it('takes address, namespace and API key (which turns TLS on) from TEMPORAL_* variables', () => {
    process.env.TEMPORAL_ADDRESS = 'titan.tmprl.cloud:7233';
    process.env.TEMPORAL_NAMESPACE = 'titan-prod';
    process.env.TEMPORAL_API_KEY = 'key-123';
    const s = temporalSettings();
    assert.equal(s.connectionOptions.address, 'titan.tmprl.cloud:7233');
    assert.equal(s.namespace, 'titan-prod');
    assert.equal(s.connectionOptions.apiKey, 'key-123');
    assert.ok(s.connectionOptions.tls, 'an API key implies TLS');
  });
});
